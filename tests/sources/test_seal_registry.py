"""Checking a licence row's seal against the seal registry (Art. 23, 24)."""

from __future__ import annotations

from datetime import date

from sources.seal import ALGORITHM, IssuerKey, claimed_issuer, issuer_key, seal, seal_holds
from tests.sources.test_seal import RECORD


def sealed(record: dict[str, object], key: IssuerKey) -> dict[str, object]:
    """`record` as its `licenses` row, sealed with `key`."""
    return {
        **record,
        "seal_algorithm": ALGORITHM,
        "seal_key_id": key.key_id,
        "seal_signature": seal(record, key),
    }


def holds(row: dict[str, object], key: IssuerKey, *, algorithm: str = ALGORITHM) -> bool:
    """Does the row's seal hold, with `key` as the registry publishes it?"""
    return seal_holds(
        row, issuer_code=key.issuer_code, algorithm=algorithm, public_key_b64=key.public_key_b64
    )


def test_a_seal_holds_for_the_untouched_record_and_its_issuers_key() -> None:
    key = issuer_key("GZ-AMR", seed=1)
    assert holds(sealed(RECORD, key), key)


def test_a_seal_does_not_hold_once_a_sealed_column_changes() -> None:
    key = issuer_key("GZ-AMR", seed=1)
    row = sealed(RECORD, key)
    assert not holds({**row, "status": "revoked"}, key)
    assert not holds({**row, "valid_until": date(2099, 1, 1)}, key)
    assert not holds({**row, "holder_id": "91440106MA5D3QBN1X"}, key)


def test_a_registered_key_of_another_agency_seals_nothing_for_the_issuer() -> None:
    # GZ-PSB's key is in the registry, and the signature is really GZ-PSB's: still not
    # GZ-AMR's seal, and the record says GZ-AMR issued it.
    other = issuer_key("GZ-PSB", seed=1)
    assert not holds(sealed(RECORD, other), other)


def test_a_seal_of_another_algorithm_does_not_hold() -> None:
    key = issuer_key("GZ-AMR", seed=1)
    row = sealed(RECORD, key)
    assert not holds({**row, "seal_algorithm": "RS256"}, key)
    assert not holds(row, key, algorithm="RS256")


def test_a_key_id_claims_the_issuer_code_before_its_colon() -> None:
    assert claimed_issuer(issuer_key("YX-AMR", seed=1).key_id) == "YX-AMR"
    assert claimed_issuer("GZ-FORGED:0000000000000000") == "GZ-FORGED"
    assert claimed_issuer("no-colon") == "no-colon"
