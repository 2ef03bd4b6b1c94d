"""Errors raised by `gateway.trust` (the keyring and vouchers; the audit log's own errors are
drawn in gateway.errors).

GatewayError                (gateway.errors)
└── VoucherError            (anything about vouchers and the gateway's own signing keys)
    ├── KeyringError        (the signing-keys folder or a published keys file cannot be used)
    ├── VoucherFormatError  (a voucher document lacks a member or has one of the wrong type)
    └── VoucherStoreError   (the voucher store cannot be read or written, or refuses a record)

A value without a canonical form raises sources.canonical.CanonicalFormError (a SourceError:
the one canonical form lives in the lowest layer), re-exported by gateway.trust.canonical.
"""

from __future__ import annotations

from gateway.errors import GatewayError

__all__ = ["KeyringError", "VoucherError", "VoucherFormatError", "VoucherStoreError"]


class VoucherError(GatewayError):
    """Root of the errors of the gateway's vouchers and signing keys."""


class KeyringError(VoucherError):
    """The signing-keys folder, one of its files, or a published keys file cannot be used."""


class VoucherFormatError(VoucherError):
    """A voucher (or what one is issued from) lacks a member or has one of the wrong type."""


class VoucherStoreError(VoucherError):
    """The voucher store cannot be read or written, or refuses a record."""
