"""Electronic seals over licence records (Art. 23)."""

from __future__ import annotations

from datetime import date

from sources.seal import canonical_form, issuer_key, seal, verify_seal

RECORD: dict[str, object] = {
    "license_number": "FB-440106-2025-000001-3",
    "kind": "食品经营许可证",
    "holder_kind": "entity",
    "holder_id": "91440106MAEF2KJ373",
    "issuer_code": "GZ-AMR",
    "issued_on": date(2025, 3, 22),
    "valid_until": None,
    "status": "valid",
    "division_code": "440106",
    "updated_at": "not sealed",
}


def test_canonical_form_is_sorted_compact_utf8_json_of_the_sealed_columns() -> None:
    text = canonical_form(RECORD).decode("utf-8")
    assert text.startswith('{"division_code":"440106","holder_id":')
    assert '"kind":"食品经营许可证"' in text
    assert '"valid_until":null' in text
    assert "updated_at" not in text
    assert " " not in text


def test_a_seal_verifies_only_the_record_it_was_made_for() -> None:
    key = issuer_key("GZ-AMR", seed=1)
    signature = seal(RECORD, key)
    assert verify_seal(RECORD, signature, key.public_key_b64)
    assert verify_seal({**RECORD, "updated_at": "changed"}, signature, key.public_key_b64)
    assert not verify_seal({**RECORD, "status": "revoked"}, signature, key.public_key_b64)
    other = issuer_key("GZ-PSB", seed=1)
    assert not verify_seal(RECORD, signature, other.public_key_b64)
    assert not verify_seal(RECORD, "not base64 at all!", key.public_key_b64)


def test_synthetic_issuer_keys_depend_on_the_seed_and_issuer_only() -> None:
    assert issuer_key("GZ-AMR", seed=1).key_id == issuer_key("GZ-AMR", seed=1).key_id
    assert issuer_key("GZ-AMR", seed=1).key_id != issuer_key("GZ-AMR", seed=2).key_id
    assert issuer_key("GZ-AMR", seed=1).key_id.startswith("GZ-AMR:")
