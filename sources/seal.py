"""Electronic seals on licence records (Art. 23): an issuer's Ed25519 signature.

The sealed bytes are a domain tag followed by the record's canonical form: the sealed fields as a
JSON object in the one canonical form, RFC 8785 (sources.canonical). Anyone holding the issuer's
public key, published in the `issuer_keys` table, can check that nobody changed the record after
issue.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sources.canonical import canonical_plain

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "ALGORITHM",
    "SEALED_COLUMNS",
    "IssuerKey",
    "canonical_form",
    "claimed_issuer",
    "issuer_key",
    "seal",
    "seal_holds",
    "verify_seal",
]

ALGORITHM = "Ed25519"
_DOMAIN = b"govgate-licence-seal-v1\n"

#: The licence columns an issuer's seal covers, in the order they are documented.
SEALED_COLUMNS: tuple[str, ...] = (
    "license_number",
    "kind",
    "holder_kind",
    "holder_id",
    "issuer_code",
    "issued_on",
    "valid_until",
    "status",
    "division_code",
)


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def canonical_form(record: Mapping[str, object]) -> bytes:
    """The bytes a seal signs: the sealed columns of `record`, canonical JSON, UTF-8."""
    missing = [c for c in SEALED_COLUMNS if c not in record]
    if missing:
        raise KeyError(f"cannot seal a licence record without {', '.join(missing)}")
    # Text and nulls only: the one canonical form's fast path (sources.canonical).
    return canonical_plain({column: _text(record[column]) for column in SEALED_COLUMNS})


@dataclass(frozen=True, slots=True)
class IssuerKey:
    """An issuer's seal key pair; `key_id` names the public key in the seal registry."""

    issuer_code: str
    key_id: str
    private_key: Ed25519PrivateKey

    @property
    def public_key_b64(self) -> str:
        """The raw 32-byte public key, base64."""
        raw = self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.b64encode(raw).decode("ascii")


def issuer_key(issuer_code: str, *, seed: int) -> IssuerKey:
    """The synthetic issuer key for `issuer_code`, derived from the data seed.

    Real issuers hold their own keys; synthetic data derives them so that the same seed gives the
    same database, byte for byte.
    """
    secret = hashlib.sha256(f"govgate-synthetic-seal:{seed}:{issuer_code}".encode()).digest()
    private = Ed25519PrivateKey.from_private_bytes(secret)
    key = IssuerKey(issuer_code, "", private)
    fingerprint = hashlib.sha256(base64.b64decode(key.public_key_b64)).hexdigest()[:16]
    return IssuerKey(issuer_code, f"{issuer_code}:{fingerprint}", private)


def seal(record: Mapping[str, object], key: IssuerKey) -> str:
    """The base64 Ed25519 signature of `key` over the record's canonical form."""
    signature = key.private_key.sign(_DOMAIN + canonical_form(record))
    return base64.b64encode(signature).decode("ascii")


def claimed_issuer(key_id: str) -> str:
    """The issuer code a key id names: key ids are `CODE:fingerprint` (`GZ-AMR:3f2a...`).

    Only a claim: the seal registry says whose key it really is.
    """
    return key_id.partition(":")[0]


def verify_seal(record: Mapping[str, object], signature_b64: str, public_key_b64: str) -> bool:
    """True when `signature_b64` is the issuer's seal over exactly this record."""
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
        public.verify(base64.b64decode(signature_b64), _DOMAIN + canonical_form(record))
    except (InvalidSignature, ValueError):
        return False
    return True


def seal_holds(
    record: Mapping[str, object], *, issuer_code: str, algorithm: str, public_key_b64: str
) -> bool:
    """True when a licence row's own seal is its issuer's signature over the row as it is.

    `record` is a `licenses` row with the sealed columns, `seal_algorithm` and
    `seal_signature`; the keywords are the `issuer_keys` row of its `seal_key_id`. The key must
    be the record issuer's own (another agency's registered key seals nothing for it) and
    Ed25519 on both sides.
    """
    return (
        record.get("seal_algorithm") == ALGORITHM
        and algorithm == ALGORITHM
        and issuer_code == record.get("issuer_code")
        and verify_seal(record, str(record["seal_signature"]), public_key_b64)
    )
