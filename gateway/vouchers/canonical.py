"""The canonical JSON form that vouchers hash and sign: RFC 8785, the JSON Canonicalization Scheme.

JCS gives one byte sequence per JSON value, whatever the producer's spacing, member order or
number spelling: members sorted by their UTF-16 code units, no whitespace, numbers written as
ECMAScript writes them (`1.0` -> `1`, `1e21` -> `1e+21`), strings in UTF-8 with only the
mandatory escapes. So the agency can hash the `data` it received, after any JSON round trip,
and get the hash the gateway signed.
"""

from __future__ import annotations

import hashlib
from typing import Any, cast

import rfc8785

from gateway.vouchers.errors import CanonicalFormError

__all__ = ["canonical_json", "data_sha256"]


def canonical_json(value: object) -> bytes:
    """The RFC 8785 (JCS) canonical form of a JSON value, as UTF-8 bytes.

    `value` is what `json.loads` returns (dict, list, str, int, float, bool, None; tuples count
    as lists). Raises CanonicalFormError for what JSON cannot carry exactly: NaN and infinities,
    integers beyond +/-(2**53 - 1), non-string object keys, lone surrogates, other types.
    """
    try:
        return rfc8785.dumps(cast("Any", value))
    except rfc8785.CanonicalizationError as error:
        raise CanonicalFormError(
            f"The value cannot be written as canonical JSON (RFC 8785): {error}; only JSON "
            "values (objects with string keys, arrays, strings, finite numbers within "
            "+/-(2**53 - 1) for integers, true, false, null) can be hashed and signed."
        ) from None


def data_sha256(data: object) -> str:
    """Lower-case hex SHA-256 of `canonical_json(data)`; raises CanonicalFormError like it."""
    return hashlib.sha256(canonical_json(data)).hexdigest()
