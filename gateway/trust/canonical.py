"""The one canonical JSON form (RFC 8785) as the trust records use it.

The implementation is sources.canonical (the lowest layer: licence seals use it too); this module
adds `data_sha256`, the hash a voucher holds of the response's `data`.
"""

from __future__ import annotations

import hashlib

from sources.canonical import CanonicalFormError, canonical_json, canonical_plain

__all__ = ["CanonicalFormError", "canonical_json", "canonical_plain", "data_sha256"]


def data_sha256(data: object) -> str:
    """Lower-case hex SHA-256 of `canonical_json(data)`; raises CanonicalFormError like it."""
    return hashlib.sha256(canonical_json(data)).hexdigest()
