"""Trust: what the gateway keeps so that an auditor can check what it did (Art. 23, 25, 28, 34).

    canonical   the one canonical JSON form, RFC 8785 (implemented in sources.canonical)
    keyring     the gateway's own Ed25519 signing keys: vouchers and the audit head sign with them
    trail       what one request did, gathered while it is answered; its decision
    evidence    vouchers and stale-data warnings attached to an answer before it is released
    freshness   each source's newest record time (Art. 17)
    audit/      the hash-chained log, its store and writer, witnesses, reports
    vouchers/   signed proof of exactly what data went to whom (Art. 23)

Arrows: trust imports policies and sources, and gateway's base modules (errors, codes, files,
settings); never graphql, http or cli (tests/test_architecture.py).
"""

__all__: list[str] = []
