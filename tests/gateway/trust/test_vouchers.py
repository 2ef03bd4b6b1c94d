"""Vouchers (Art. 23): canonical JSON, the gateway's signing keys, signing, checking, the store."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
import stat
import struct
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Column, Integer, MetaData, Table, select, text, update

from gateway.errors import GatewayError
from gateway.trust.vouchers import (
    SIGNING_CONTEXT,
    CanonicalFormError,
    Keyring,
    KeyringError,
    PublicKeyring,
    Voucher,
    VoucherError,
    VoucherFormatError,
    VoucherStore,
    VoucherStoreError,
    canonical_json,
    check,
    data_sha256,
    differences,
    issue,
    verify_signature,
)
from gateway.trust.vouchers.store import signing_keys
from sources.engines import make_engine

if TYPE_CHECKING:
    from collections.abc import Callable

WHEN = datetime(2026, 11, 26, 9, 30, 0, 123456, tzinfo=timezone(timedelta(hours=8)))

DATA: dict[str, Any] = {
    "license": {
        "licenseNumber": "GZ-FOOD-2024-000123",
        "holderName": "广州市天河区示例餐饮有限公司",
        "validUntil": "2027-05-31",
        "status": "valid",
        "holder": {"creditCode": "91440106MA59C8KX2Q", "registeredCapital": 1500000.0},
        "inspections": [{"date": "2026-03-02", "score": 92.5}, {"date": "2025-09-14", "score": 88}],
    }
}


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    return Keyring.open(tmp_path / "keys")


@pytest.fixture
def make_voucher(keyring: Keyring) -> Callable[..., Voucher]:
    def make(**overrides: Any) -> Voucher:
        arguments: dict[str, Any] = {
            "agency": "TH-CA",
            "request_id": "req-7f3a",
            "datasets": ["license-core", "entity-core", "license-core"],
            "data": DATA,
            "issued_at": WHEN,
        }
        return issue(keyring, **{**arguments, **overrides})

    return make


def deep_copy(value: Any) -> Any:
    return json.loads(json.dumps(value))


# -- canonical JSON (RFC 8785) ----------------------------------------------------------------


def test_canonical_form_matches_the_rfc_8785_example() -> None:
    # RFC 8785 section 3.2.2, input and output as printed there.
    text = r"""{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }"""
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical_json(json.loads(text)) == expected.encode("utf-8")


def test_canonical_form_sorts_members_by_their_utf16_code_units() -> None:
    # RFC 8785 section 3.2.3: the emoji (surrogates D83D DE00) sorts before U+FB33, although
    # its code point is greater.
    text = r"""{"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet",
                "1": "One", "\ud83d\ude00": "Emoji: Grinning Face", "\u0080": "Control",
                "\u00f6": "Latin Small Letter O With Diaeresis"}"""
    keys = list(json.loads(canonical_json(json.loads(text))))
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


@pytest.mark.parametrize(
    ("ieee754", "expected"),
    [
        # RFC 8785 appendix B.
        ("0000000000000000", "0"),
        ("8000000000000000", "0"),
        ("0000000000000001", "5e-324"),
        ("7fefffffffffffff", "1.7976931348623157e+308"),
        ("4340000000000000", "9007199254740992"),
        ("4430000000000000", "295147905179352830000"),
        ("44b52d02c7e14af6", "1e+23"),
        ("444b1ae4d6e2ef4f", "999999999999999900000"),
        ("444b1ae4d6e2ef50", "1e+21"),
        ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
        ("3eb0c6f7a0b5ed8d", "0.000001"),
        ("41b3de4355555557", "333333333.33333343"),
        ("becbf647612f3696", "-0.0000033333333333333333"),
        ("43143ff3c1cb0959", "1424953923781206.2"),
        # 1.0 and 1 are one JSON number.
        ("3ff0000000000000", "1"),
    ],
)
def test_canonical_numbers_are_written_as_ecmascript_writes_them(
    ieee754: str, expected: str
) -> None:
    (number,) = struct.unpack(">d", bytes.fromhex(ieee754))
    assert canonical_json(number) == expected.encode("ascii")


def test_canonical_form_keeps_unicode_as_utf8_and_escapes_only_what_it_must() -> None:
    assert canonical_json(["广州", "é", "\u2028", "\x1f", "\t"]) == (
        '["广州","é","\u2028","\\u001f","\\t"]'.encode()
    )


def test_spacing_member_order_and_number_spelling_do_not_change_the_hash() -> None:
    one = json.loads('{"b": [1.0, 2e0, "x"], "a": {"y": 1E21, "x": null}}')
    two = json.loads('{ "a" : { "x" : null , "y" : 1000000000000000000000.0 } , "b":[1,2,"x"] }')
    assert canonical_json(one) == b'{"a":{"x":null,"y":1e+21},"b":[1,2,"x"]}'
    assert data_sha256(one) == data_sha256(two)
    assert data_sha256(one) == hashlib.sha256(canonical_json(two)).hexdigest()


@pytest.mark.parametrize(
    "value",
    [float("nan"), float("inf"), 2**53, {1: "one"}, {"when": datetime(2026, 1, 1, tzinfo=UTC)}],
)
def test_values_json_cannot_carry_exactly_are_refused(value: object) -> None:
    with pytest.raises(CanonicalFormError, match="cannot be written as canonical JSON"):
        data_sha256(value)


# -- the keyring ------------------------------------------------------------------------------


def test_opening_an_empty_folder_creates_a_first_key_only_its_owner_can_read(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "keys" / "gateway"
    keyring = Keyring.open(folder)
    kid = keyring.current.kid
    raw = base64.b64decode(keyring.current.public_key_b64)
    assert kid == "gw-" + hashlib.sha256(raw).hexdigest()[:16]
    assert (folder / "current").read_text("utf-8").strip() == kid
    pem = folder / f"{kid}.pem"
    assert pem.read_text("ascii").startswith("-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    assert sorted(p.name for p in folder.glob("*.pem")) == [f"{kid}.pem"]
    assert Keyring.open(folder).current.kid == kid
    assert Keyring.open(folder).public_keys() == {kid: keyring.current.public_key_b64}


def test_rotation_makes_a_new_key_current_and_keeps_the_old_ones(keyring: Keyring) -> None:
    first = keyring.current.kid
    second = keyring.rotate()
    assert second != first
    assert keyring.current.kid == second
    assert sorted(keyring.public_keys()) == sorted([first, second])
    again = Keyring.open(keyring.folder)
    assert again.current.kid == second
    assert again.public_keys() == keyring.public_keys()
    kid, signature = again.sign(b"payload")
    assert kid == second
    assert verify_signature(again.public_keys()[second], b"payload", signature)
    assert not verify_signature(again.public_keys()[first], b"payload", signature)


def test_a_key_file_not_named_after_its_key_is_refused(keyring: Keyring) -> None:
    kid = keyring.current.kid
    (keyring.folder / f"{kid}.pem").rename(keyring.folder / "gw-0000000000000000.pem")
    (keyring.folder / "current").write_text("gw-0000000000000000\n", "utf-8")
    with pytest.raises(KeyringError, match=f"holds key {kid}, not gw-0000000000000000; rename"):
        Keyring.open(keyring.folder)


def test_a_current_file_naming_a_missing_key_is_refused(keyring: Keyring) -> None:
    (keyring.folder / "current").write_text("gw-0123456789abcdef\n", "utf-8")
    with pytest.raises(KeyringError, match=r"has no gw-0123456789abcdef\.pem; restore"):
        Keyring.open(keyring.folder)


def test_keys_without_a_current_file_are_refused_rather_than_joined_by_a_new_one(
    keyring: Keyring,
) -> None:
    (keyring.folder / "current").unlink()
    with pytest.raises(KeyringError, match="no `current` file naming the one in use"):
        Keyring.open(keyring.folder)
    assert len(list(keyring.folder.glob("*.pem"))) == 1


def test_a_file_that_is_not_a_private_key_is_refused(keyring: Keyring) -> None:
    (keyring.folder / "gw-0000000000000000.pem").write_text("not a key", "utf-8")
    with pytest.raises(KeyringError, match="not an unencrypted PKCS8 PEM private key"):
        Keyring.open(keyring.folder)


def test_keyring_errors_are_voucher_and_gateway_errors() -> None:
    assert issubclass(KeyringError, VoucherError)
    assert issubclass(VoucherError, GatewayError)


def test_malformed_signatures_and_keys_are_simply_invalid(keyring: Keyring) -> None:
    public = keyring.current.public_key_b64
    _, signature = keyring.sign(b"payload")
    assert verify_signature(public, b"payload", signature)
    assert not verify_signature(public, b"payload!", signature)
    assert not verify_signature(public, b"payload", "not base64!")
    assert not verify_signature(public, b"payload", base64.b64encode(b"short").decode())
    assert not verify_signature("AAAA", b"payload", signature)


def test_public_keys_round_trip_through_the_published_file(
    keyring: Keyring, tmp_path: Path
) -> None:
    keyring.rotate()
    path = tmp_path / "published.json"
    path.write_text(json.dumps(PublicKeyring(keyring.public_keys()).to_json()), "utf-8")
    loaded = PublicKeyring.from_file(path)
    assert dict(loaded) == keyring.public_keys()
    assert dict(PublicKeyring.from_folder(keyring.folder)) == keyring.public_keys()


def test_a_published_key_that_is_not_the_key_its_id_names_is_refused(
    keyring: Keyring, tmp_path: Path
) -> None:
    other = Keyring.open(tmp_path / "other").current.public_key_b64
    path = tmp_path / "published.json"
    path.write_text(json.dumps({"keys": {keyring.current.kid: other}}), "utf-8")
    with pytest.raises(KeyringError, match="is not the key its id names"):
        PublicKeyring.from_file(path)
    path.write_text(json.dumps({"keys": {keyring.current.kid: "AAAA"}}), "utf-8")
    with pytest.raises(KeyringError, match="not a standard base64 raw Ed25519 public key"):
        PublicKeyring.from_file(path)
    path.write_text('{"gw-0123456789abcdef": "AAAA"}', "utf-8")
    with pytest.raises(KeyringError, match="is not a keys file"):
        PublicKeyring.from_file(path)
    path.write_text("{", "utf-8")
    with pytest.raises(KeyringError, match="is not JSON"):
        PublicKeyring.from_file(path)


# -- issuing and checking ---------------------------------------------------------------------


def test_a_fresh_voucher_verifies_and_says_what_was_returned_to_whom_and_when(
    keyring: Keyring, make_voucher: Callable[..., Voucher]
) -> None:
    voucher = make_voucher()
    assert re.fullmatch(r"v-[0-9a-f]{32}", voucher.id)
    assert voucher.issued_at == "2026-11-26T01:30:00.123456Z"
    assert voucher.agency == "TH-CA"
    assert voucher.request_id == "req-7f3a"
    assert voucher.datasets == ("entity-core", "license-core")
    assert voucher.data_sha256 == hashlib.sha256(rfc8785.dumps(DATA)).hexdigest()
    assert voucher.key_id == keyring.current.kid
    assert check(voucher, deep_copy(DATA), keyring.public_keys()) == []
    assert check(voucher, DATA, PublicKeyring.from_folder(keyring.folder)) == []
    assert make_voucher().id != voucher.id


def test_the_signature_is_over_exactly_the_documented_bytes(
    keyring: Keyring, make_voucher: Callable[..., Voucher]
) -> None:
    # What docs/trust.md tells an auditor to do, with nothing from govgate but the JSON.
    voucher_json = make_voucher().to_json()
    body = {name: value for name, value in voucher_json.items() if name != "signature"}
    assert sorted(body) == sorted(
        ["id", "issuedAt", "agency", "requestId", "datasets", "dataSha256", "keyId"]
    )
    message = b"govgate-voucher-v1\n" + rfc8785.dumps(body)  # type: ignore[arg-type]
    raw = base64.b64decode(keyring.public_keys()[str(voucher_json["keyId"])])
    Ed25519PublicKey.from_public_bytes(raw).verify(
        base64.b64decode(str(voucher_json["signature"])), message
    )
    assert message == SIGNING_CONTEXT + canonical_json(body)


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("id", "v-00000000000000000000000000000000"),
        ("issuedAt", "2026-11-27T01:30:00.123456Z"),
        ("agency", "GZ-PSB"),
        ("requestId", "req-0000"),
        ("datasets", ["entity-core", "license-core", "person-core"]),
        ("datasets", ["license-core", "entity-core"]),
        ("dataSha256", "0" * 64),
    ],
)
def test_changing_a_signed_member_breaks_the_signature(
    keyring: Keyring, make_voucher: Callable[..., Voucher], member: str, value: object
) -> None:
    altered = Voucher.from_json({**make_voucher().to_json(), member: value})
    problems = check(altered, DATA, keyring.public_keys())
    assert problems[0] == (
        "the voucher's signature does not match its contents: the voucher was altered "
        "(its agency, time, datasets or hash changed)"
    )
    assert len(problems) == (2 if member == "dataSha256" else 1)


def test_changing_the_signature_itself_is_detected(
    keyring: Keyring, make_voucher: Callable[..., Voucher]
) -> None:
    voucher = make_voucher()
    signature = bytearray(base64.b64decode(voucher.signature))
    signature[10] ^= 1
    altered = dataclasses.replace(voucher, signature=base64.b64encode(signature).decode())
    assert check(altered, DATA, keyring.public_keys()) == [
        "the voucher's signature does not match its contents: the voucher was altered "
        "(its agency, time, datasets or hash changed)"
    ]


def test_a_voucher_naming_an_unknown_key_is_refused(
    keyring: Keyring, make_voucher: Callable[..., Voucher]
) -> None:
    altered = dataclasses.replace(make_voucher(), key_id="gw-0123456789abcdef")
    (problem,) = check(altered, DATA, keyring.public_keys())
    assert problem.startswith(
        "the voucher names key gw-0123456789abcdef which is not among the gateway's public keys;"
    )


def test_a_voucher_claiming_another_of_the_gateways_keys_is_refused(
    keyring: Keyring, make_voucher: Callable[..., Voucher]
) -> None:
    voucher = make_voucher()
    newer = keyring.rotate()
    altered = dataclasses.replace(voucher, key_id=newer)
    (problem,) = check(altered, DATA, keyring.public_keys())
    assert problem.startswith("the voucher's signature does not match its contents")


def test_changing_one_value_deep_in_the_data_is_detected(
    keyring: Keyring, make_voucher: Callable[..., Voucher]
) -> None:
    voucher = make_voucher()
    data = deep_copy(DATA)
    data["license"]["inspections"][1]["score"] = 89
    actual = data_sha256(data)
    assert check(voucher, data, keyring.public_keys()) == [
        "the response's data does not match the voucher: SHA-256 of its canonical form is "
        f"{actual}, the voucher says {voucher.data_sha256}"
    ]
    data["license"]["inspections"][1]["score"] = 88.0  # the same number, spelled otherwise
    assert check(voucher, data, keyring.public_keys()) == []


def test_data_that_json_cannot_carry_is_a_mismatch_not_a_crash(
    keyring: Keyring, make_voucher: Callable[..., Voucher]
) -> None:
    (problem,) = check(make_voucher(), {"license": float("nan")}, keyring.public_keys())
    assert problem.startswith("the response's data is not a JSON value the gateway could have")


def test_a_voucher_reads_back_from_its_json(make_voucher: Callable[..., Voucher]) -> None:
    voucher = make_voucher()
    document = voucher.to_json()
    assert list(document) == [
        "id", "issuedAt", "agency", "requestId", "datasets", "dataSha256", "keyId", "signature"
    ]  # fmt: skip
    assert Voucher.from_json(deep_copy(document)) == voucher


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"agency": None}, "The voucher's `agency` must be a string, not None"),
        ({"datasets": "license-core"}, "The voucher's `datasets` must be a list of strings"),
        ({"datasets": [1]}, "The voucher's `datasets` must be a list of strings, not \\[1\\]"),
        ({"note": "trust me"}, "has members a voucher does not have \\(note\\)"),
    ],
)
def test_a_malformed_voucher_document_is_refused_naming_the_member(
    make_voucher: Callable[..., Voucher], change: dict[str, object], message: str
) -> None:
    with pytest.raises(VoucherFormatError, match=message):
        Voucher.from_json({**make_voucher().to_json(), **change})


def test_a_voucher_lacking_a_member_is_refused_naming_it(
    make_voucher: Callable[..., Voucher],
) -> None:
    document = make_voucher().to_json()
    del document["keyId"]
    with pytest.raises(VoucherFormatError, match="The voucher lacks its `keyId` member"):
        Voucher.from_json(document)
    with pytest.raises(VoucherFormatError, match="A voucher is a JSON object, not list"):
        Voucher.from_json([document])


def test_a_voucher_needs_an_aware_time_an_agency_and_a_request(
    make_voucher: Callable[..., Voucher],
) -> None:
    with pytest.raises(VoucherFormatError, match="must be timezone-aware"):
        make_voucher(issued_at=datetime(2026, 11, 26, 9, 30))
    with pytest.raises(VoucherFormatError, match="must name the agency and the request id"):
        make_voucher(agency="")
    with pytest.raises(VoucherFormatError, match="not the string 'license-core'"):
        make_voucher(datasets="license-core")
    with pytest.raises(CanonicalFormError):
        make_voucher(data={"at": datetime(2026, 11, 26, tzinfo=UTC)})


def test_differences_name_each_member_that_differs_from_the_record(
    make_voucher: Callable[..., Voucher],
) -> None:
    recorded = make_voucher()
    shown = dataclasses.replace(recorded, agency="GZ-PSB", datasets=("person-core",))
    assert differences(shown, recorded) == [
        "the voucher's agency is GZ-PSB but the gateway recorded TH-CA",
        "the voucher's datasets are person-core but the gateway recorded entity-core, license-core",
    ]
    assert differences(recorded, recorded) == []


def test_old_vouchers_still_verify_after_rotation_with_an_exported_keys_file(
    keyring: Keyring, make_voucher: Callable[..., Voucher], tmp_path: Path
) -> None:
    old = make_voucher()
    published = tmp_path / "published.json"
    published.write_text(json.dumps(PublicKeyring(keyring.public_keys()).to_json()), "utf-8")
    keyring.rotate()
    new = make_voucher()
    assert new.key_id != old.key_id
    assert check(old, DATA, PublicKeyring.from_file(published)) == []
    assert check(old, DATA, PublicKeyring.from_folder(keyring.folder)) == []
    assert check(new, DATA, PublicKeyring.from_folder(keyring.folder)) == []
    (problem,) = check(new, DATA, PublicKeyring.from_file(published))
    assert problem.startswith(f"the voucher names key {new.key_id} which is not among")


def test_the_example_voucher_in_the_docs_verifies() -> None:
    text = (Path(__file__).resolve().parents[3] / "docs" / "trust.md").read_text("utf-8")
    (example,) = (b for b in re.findall(r"```json\n(.*?)```", text, re.S) if '"voucher"' in b)
    response = json.loads(example)
    keys = json.loads(re.findall(r'`(\{"keys": .*?\}\})`', text)[0])["keys"]
    voucher = Voucher.from_json(response["extensions"]["voucher"])
    assert check(voucher, response["data"], PublicKeyring(keys)) == []
    signed = canonical_json(voucher.body()).decode()
    assert f"govgate-voucher-v1\n{signed}\n```" in text


# -- the store --------------------------------------------------------------------------------


async def round_trip(url: str, keyring: Keyring, make_voucher: Callable[..., Voucher]) -> None:
    """Save, read back and verify from the store alone, across a key rotation."""
    # Another engineer's table in the same database: create() must leave it alone.
    others = MetaData()
    audit = Table("audit_entries", others, Column("n", Integer, primary_key=True))
    engine = make_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(others.create_all)
        await connection.execute(audit.insert(), [{"n": 1}, {"n": 2}])

    store = VoucherStore(url)
    try:
        assert not await store.has_tables()
        await store.create()
        await store.create()  # safe when the tables exist
        assert await store.has_tables()
        old = make_voucher()
        await store.save(old, keyring.current.public_key_b64)
        keyring.rotate()
        new = make_voucher(agency="GZ-PSB", datasets=[])
        await store.save(new, keyring.current.public_key_b64)
        await store.save(make_voucher(), keyring.current.public_key_b64)
        with pytest.raises(VoucherStoreError, match=f"A voucher with id {new.id} is already"):
            await store.save(new, keyring.current.public_key_b64)
    finally:
        await store.close()

    # A new process, without the keyring folder: the store alone verifies both vouchers.
    reopened = VoucherStore(url)
    try:
        assert await reopened.get(old.id) == old
        assert await reopened.get(new.id) == new
        assert await reopened.get("v-" + "0" * 32) is None
        keys = await reopened.public_keys()
        assert keys == keyring.public_keys()
        assert check(old, DATA, PublicKeyring(keys)) == []
        assert check(new, DATA, PublicKeyring(keys)) == []
    finally:
        await reopened.close()

    async with engine.connect() as connection:
        assert (await connection.execute(select(audit.c.n))).scalars().all() == [1, 2]
    await engine.dispose()


async def test_the_store_keeps_vouchers_and_keys_on_sqlite(
    tmp_path: Path, keyring: Keyring, make_voucher: Callable[..., Voucher]
) -> None:
    await round_trip(f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}", keyring, make_voucher)


@pytest.mark.postgres
async def test_the_store_keeps_vouchers_and_keys_on_postgresql(
    postgres_url: str, keyring: Keyring, make_voucher: Callable[..., Voucher]
) -> None:
    await round_trip(postgres_url, keyring, make_voucher)


async def test_the_store_refuses_a_public_key_that_is_not_the_vouchers_key(
    tmp_path: Path, keyring: Keyring, make_voucher: Callable[..., Voucher]
) -> None:
    store = VoucherStore(f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}")
    try:
        await store.create()
        other = Keyring.open(tmp_path / "other").current.public_key_b64
        with pytest.raises(VoucherStoreError, match="it is not that key"):
            await store.save(make_voucher(), other)
        assert await store.public_keys() == {}
    finally:
        await store.close()


async def test_the_store_refuses_to_trust_a_key_record_that_was_altered(
    tmp_path: Path, keyring: Keyring, make_voucher: Callable[..., Voucher]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"
    store = VoucherStore(url)
    await store.create()
    await store.save(make_voucher(), keyring.current.public_key_b64)
    await store.close()
    engine = make_engine(url)
    async with engine.begin() as connection:
        other = Keyring.open(tmp_path / "other").current.public_key_b64
        await connection.execute(text("DROP TRIGGER signing_keys_no_update"))  # an insider
        await connection.execute(update(signing_keys).values(public_key=other))
    await engine.dispose()
    reopened = VoucherStore(url)
    try:
        with pytest.raises(VoucherStoreError, match="already holds a different public key"):
            await reopened.save(make_voucher(), keyring.current.public_key_b64)
    finally:
        await reopened.close()


async def test_an_unreachable_store_says_so(keyring: Keyring) -> None:
    store = VoucherStore("postgresql+asyncpg://nobody:secret@127.0.0.1:1/none")
    try:
        with pytest.raises(VoucherStoreError, match="Cannot read vouchers from") as raised:
            await store.get("v-" + "0" * 32)
        assert "secret" not in str(raised.value)
    finally:
        await store.close()
