"""A voucher forged by someone who can write the audit database but does not hold the gateway's
private key must not verify: an insider adds a key of their own to the store's `signing_keys`
table and a matching row to `vouchers`. Verification trusts only the keyring folder or a keys
file the auditor holds, so neither `govgate voucher verify` nor `voucher(id:) { signatureValid }`
accepts it (found by a security review)."""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gateway.cli.voucher import voucher_group
from gateway.settings import Settings
from gateway.trust.evidence import GatewayEvidence
from gateway.trust.vouchers import (
    Keyring,
    Voucher,
    VoucherStore,
    data_sha256,
    issue,
    key_id,
)
from gateway.trust.vouchers.store import signing_keys, vouchers
from sources.engines import make_engine

if TYPE_CHECKING:
    from pathlib import Path

WHEN = datetime(2026, 11, 26, 1, 30, tzinfo=UTC)
#: What the insider wants the record to say PY-TAX was shown (say, a licence that was revoked).
FORGED_DATA = {"license": {"licenseNumber": "BL-440113-2006-000001-4", "status": "valid"}}


def _deployment(tmp_path: Path) -> Settings:
    """A demo folder whose gateway has a key and has issued (and recorded) one genuine voucher."""
    settings = Settings.demo(tmp_path / "data")
    keyring = Keyring.open(settings.signing_keys)
    genuine = issue(keyring, agency="PY-TAX", request_id="req-1", datasets=["electronic-licences"],
                    data={"license": None}, issued_at=WHEN)  # fmt: skip

    async def save() -> None:
        store = VoucherStore(settings.audit_url)
        try:
            await store.create()
            await store.save(genuine, keyring.current.public_key_b64)
        finally:
            await store.close()

    asyncio.run(save())
    return settings


def _insider_forges(settings: Settings) -> Voucher:
    """Write access to the audit database only: add an own key and a voucher signed with it."""
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    unsigned = Voucher(id="v-" + "ab" * 16, issued_at="2026-10-01T09:00:00.000000Z",
                       agency="PY-TAX", request_id="forged", datasets=("electronic-licences",),
                       data_sha256=data_sha256(FORGED_DATA), key_id=key_id(raw),
                       signature="")  # fmt: skip
    forged = replace(
        unsigned, signature=base64.b64encode(private.sign(unsigned.signed_payload())).decode()
    )

    async def write() -> None:
        engine = make_engine(settings.audit_url)
        async with engine.begin() as connection:
            await connection.execute(signing_keys.insert(), {
                "key_id": forged.key_id, "public_key": base64.b64encode(raw).decode(),
                "added_at": "2026-01-01T00:00:00.000000Z"})  # fmt: skip
            await connection.execute(vouchers.insert(), {
                "id": forged.id, "issued_at": forged.issued_at, "agency": forged.agency,
                "request_id": forged.request_id, "datasets": json.dumps(list(forged.datasets)),
                "data_sha256": forged.data_sha256, "key_id": forged.key_id,
                "signature": forged.signature})  # fmt: skip
        await engine.dispose()

    asyncio.run(write())
    return forged


def test_voucher_verify_refuses_a_voucher_signed_with_a_key_an_insider_added_to_the_store(
    tmp_path: Path,
) -> None:
    settings = _deployment(tmp_path)
    forged = _insider_forges(settings)
    response = tmp_path / "forged.json"
    response.write_text(
        json.dumps({"data": FORGED_DATA, "extensions": {"voucher": forged.to_json()}}), "utf-8"
    )
    result = CliRunner().invoke(
        voucher_group,
        ["verify", "--response", str(response), "--data", str(tmp_path / "data")],
        catch_exceptions=False,
    )
    assert result.exit_code == 1, result.output
    assert not result.stdout.startswith("verified:")


def test_voucher_signature_valid_is_false_for_a_key_an_insider_added_to_the_store(
    tmp_path: Path,
) -> None:
    settings = _deployment(tmp_path)
    forged = _insider_forges(settings)

    async def look_up() -> object:
        evidence = GatewayEvidence(settings, {})
        try:
            found = await evidence.voucher(forged.id)
        finally:
            await evidence.close()
        return None if found is None else found["signatureValid"]

    assert asyncio.run(look_up()) in (None, False)
