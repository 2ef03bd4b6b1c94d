"""Vouchers (Art. 23): signed proof of exactly what data the gateway returned to whom, when.

The gateway signs each voucher with its own Ed25519 key (`Keyring`, in `Settings.signing_keys`)
over the RFC 8785 canonical form of the voucher; the voucher holds the SHA-256 of the canonical
form of the response's `data`. `VoucherStore` records vouchers and public keys in the audit
database; `check` and `govgate voucher verify` verify them. docs/trust.md explains it all to an
auditor.

    keyring = Keyring.open(settings.signing_keys)
    voucher = issue(keyring, agency="TH-CA", request_id=rid, datasets={"person-core"},
                    data=result.data, issued_at=datetime.now(UTC))
    await store.save(voucher, keyring.current.public_key_b64)
    response["extensions"]["voucher"] = voucher.to_json()
"""

from __future__ import annotations

from gateway.trust.canonical import CanonicalFormError, canonical_json, data_sha256
from gateway.trust.errors import (
    KeyringError,
    VoucherError,
    VoucherFormatError,
    VoucherStoreError,
)
from gateway.trust.keyring import (
    GatewayKey,
    Keyring,
    PublicKeyring,
    key_id,
    verify_signature,
)
from gateway.trust.vouchers.store import VoucherStore
from gateway.trust.vouchers.voucher import SIGNING_CONTEXT, Voucher, check, differences, issue

__all__ = [
    "SIGNING_CONTEXT",
    "CanonicalFormError",
    "GatewayKey",
    "Keyring",
    "KeyringError",
    "PublicKeyring",
    "Voucher",
    "VoucherError",
    "VoucherFormatError",
    "VoucherStore",
    "VoucherStoreError",
    "canonical_json",
    "check",
    "data_sha256",
    "differences",
    "issue",
    "key_id",
    "verify_signature",
]
