"""The bounds of a document, measured before graphql-core's rules walk it (Art. 20: nothing
an agency sends can make the gateway work without limit).

    walk      one memoised fold over an operation as it would run (each fragment folded once)
    measure   depth, aliases, verifications, expanded size and the estimated cost: `Bounds`
"""

__all__: list[str] = []
