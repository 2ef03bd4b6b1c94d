"""Errors raised by `gateway.vouchers`.

GatewayError                (gateway.errors)
└── VoucherError            (anything about vouchers and the gateway's own signing keys)
    ├── CanonicalFormError  (a value has no RFC 8785 canonical form: NaN, a huge integer, ...)
    ├── KeyringError        (the signing-keys folder or a published keys file cannot be used)
    ├── VoucherFormatError  (a voucher document lacks a member or has one of the wrong type)
    └── VoucherStoreError   (the voucher store cannot be read or written, or refuses a record)
"""

from __future__ import annotations

from gateway.errors import GatewayError

__all__ = [
    "CanonicalFormError",
    "KeyringError",
    "VoucherError",
    "VoucherFormatError",
    "VoucherStoreError",
]


class VoucherError(GatewayError):
    """Root of every error raised by `gateway.vouchers`."""


class CanonicalFormError(VoucherError):
    """A value cannot be written in RFC 8785 canonical JSON, so it cannot be hashed or signed."""


class KeyringError(VoucherError):
    """The signing-keys folder, one of its files, or a published keys file cannot be used."""


class VoucherFormatError(VoucherError):
    """A voucher (or what one is issued from) lacks a member or has one of the wrong type."""


class VoucherStoreError(VoucherError):
    """The voucher store cannot be read or written, or refuses a record."""
