"""The policy in force, published to every process and followed (Art. 9, 19).

    served    PolicyTexts (the catalogue and rules as text) and Served (one policy in force:
              its grants and the agency schemas built from them, swapped whole)
    sync      PolicyStore: publish to the gateway's database, each publication recorded
    history   catalogue history, and approvals for changes that remove shared information

Arrows: policy imports graphql (Served holds the agency schemas) and gateway's base modules;
never http, trust or cli (tests/test_architecture.py).
"""

__all__: list[str] = []
