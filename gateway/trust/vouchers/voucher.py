"""Vouchers: signed proof of exactly what data the gateway returned to an agency, and when.

Art. 23: when an agency looks up a document or licence as the basis for a decision, the
platform generates a data snapshot / electronic voucher fixing the time state. A voucher holds
the SHA-256 of the RFC 8785 canonical form of the response's `data`, the agency, the time, the
catalogue datasets it covers and the request id, signed by the gateway with Ed25519 over

    b"govgate-voucher-v1\\n" + canonical_json(body)

where `body` is the voucher as a JSON object (camelCase members) without its `signature`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from gateway.trust.canonical import CanonicalFormError, canonical_json, data_sha256
from gateway.trust.errors import VoucherFormatError
from gateway.trust.keyring import verify_signature

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from gateway.trust.keyring import Keyring

__all__ = ["SIGNING_CONTEXT", "Voucher", "check", "differences", "issue"]

#: Prefixed to the canonical body before signing, so a voucher signature can never be taken for
#: the gateway's signature over anything else (and a future format gets a new prefix).
SIGNING_CONTEXT = b"govgate-voucher-v1\n"

#: Python field -> JSON member, in the order `to_json` writes them.
_MEMBERS = {
    "id": "id",
    "issued_at": "issuedAt",
    "agency": "agency",
    "request_id": "requestId",
    "datasets": "datasets",
    "data_sha256": "dataSha256",
    "key_id": "keyId",
    "signature": "signature",
}

#: How a member is named in a sentence about a difference.
_WORDS = {
    "id": "id",
    "issued_at": "issue time",
    "agency": "agency",
    "request_id": "request id",
    "datasets": "datasets",
    "data_sha256": "data hash",
    "key_id": "key id",
    "signature": "signature",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Voucher:
    """A signed statement: this data (by hash) went to this agency at this time (Art. 23)."""

    #: `v-` and 32 hex digits (a random UUID).
    id: str
    #: ISO 8601 in UTC with microseconds and `Z`, e.g. 2026-11-26T09:30:00.000000Z.
    issued_at: str
    #: The agency's catalogue code (the token's `sub`).
    agency: str
    request_id: str
    #: Catalogue dataset ids the returned data comes from, sorted.
    datasets: tuple[str, ...]
    #: Lower-case hex SHA-256 of the canonical form of the response's `data`.
    data_sha256: str
    #: The kid of the gateway key that signed it.
    key_id: str
    #: Standard base64 Ed25519 signature over `signed_payload()`.
    signature: str

    def body(self) -> dict[str, object]:
        """The signed members as a JSON object: every member but `signature`."""
        document = self.to_json()
        del document["signature"]
        return document

    def signed_payload(self) -> bytes:
        """The exact bytes the signature is over."""
        return SIGNING_CONTEXT + canonical_json(self.body())

    def to_json(self) -> dict[str, object]:
        """The voucher as the agency receives it (`extensions.voucher`)."""
        return {
            member: list(self.datasets) if name == "datasets" else getattr(self, name)
            for name, member in _MEMBERS.items()
        }

    @classmethod
    def from_json(cls, document: object) -> Voucher:
        """Read a voucher from its JSON object; VoucherFormatError names what is wrong."""
        hint = "pass the voucher exactly as the gateway returned it (extensions.voucher)"
        if not isinstance(document, dict):
            raise VoucherFormatError(
                f"A voucher is a JSON object, not {type(document).__name__}; {hint}."
            )
        unknown = sorted(set(document) - set(_MEMBERS.values()))
        if unknown:
            # An extra member is covered by no signature: refuse it rather than let it pass
            # as verified.
            raise VoucherFormatError(
                f"The voucher has members a voucher does not have ({', '.join(unknown)}); {hint}."
            )
        values: dict[str, object] = {}
        for name, member in _MEMBERS.items():
            if member not in document:
                raise VoucherFormatError(f"The voucher lacks its `{member}` member; {hint}.")
            value = document[member]
            if name == "datasets":
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise VoucherFormatError(
                        f"The voucher's `datasets` must be a list of strings, not {value!r}; "
                        f"{hint}."
                    )
                value = tuple(value)
            elif not isinstance(value, str):
                raise VoucherFormatError(
                    f"The voucher's `{member}` must be a string, not {value!r}; {hint}."
                )
            values[name] = value
        return cls(**values)  # type: ignore[arg-type]  # each value's type is checked above


def issue(
    keyring: Keyring,
    *,
    agency: str,
    request_id: str,
    datasets: Iterable[str],
    data: object,
    issued_at: datetime,
) -> Voucher:
    """Sign a voucher for `data` (the response's `data` member) with the keyring's current key.

    Raises VoucherFormatError for an empty agency or request id, datasets given as one string,
    or a naive `issued_at`, and
    CanonicalFormError when `data` is not a JSON value.
    """
    if not agency or not request_id:
        raise VoucherFormatError(
            "A voucher must name the agency and the request id; pass both, non-empty."
        )
    if isinstance(datasets, str):
        raise VoucherFormatError(
            f"A voucher's datasets are a collection of dataset ids, not the string "
            f"{datasets!r}; pass e.g. [{datasets!r}]."
        )
    if issued_at.tzinfo is None or issued_at.utcoffset() is None:
        raise VoucherFormatError(
            f"A voucher's time must be timezone-aware, not {issued_at.isoformat()}; pass e.g. "
            "datetime.now(UTC)."
        )
    key = keyring.current
    unsigned = Voucher(
        id=f"v-{uuid.uuid4().hex}",
        issued_at=issued_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        agency=agency,
        request_id=request_id,
        datasets=tuple(sorted(set(datasets))),
        data_sha256=data_sha256(data),
        key_id=key.kid,
        signature="",
    )
    return replace(unsigned, signature=key.sign(unsigned.signed_payload()))


def check(voucher: Voucher, response_data: object, public_keys: Mapping[str, str]) -> list[str]:
    """What does not hold about `voucher` for `response_data`, in words; empty: verified.

    `public_keys` maps kid -> base64 public key (a `PublicKeyring`, or `Keyring.public_keys()`).
    Checks the signature with the key the voucher names, and the hash of the data.
    """
    problems: list[str] = []
    public_key = public_keys.get(voucher.key_id)
    if public_key is None:
        problems.append(
            f"the voucher names key {voucher.key_id} which is not among the gateway's public "
            "keys; verify with the keys the gateway published when the voucher was issued "
            "(`govgate voucher keys`), or the voucher's key id was altered"
        )
    elif not verify_signature(public_key, voucher.signed_payload(), voucher.signature):
        problems.append(
            "the voucher's signature does not match its contents: the voucher was altered "
            "(its agency, time, datasets or hash changed)"
        )
    try:
        actual = data_sha256(response_data)
    except CanonicalFormError as error:
        problems.append(
            f"the response's data is not a JSON value the gateway could have hashed: {error}"
        )
    else:
        if actual != voucher.data_sha256:
            problems.append(
                "the response's data does not match the voucher: SHA-256 of its canonical "
                f"form is {actual}, the voucher says {voucher.data_sha256}"
            )
    return problems


def differences(voucher: Voucher, recorded: Voucher) -> list[str]:
    """How `voucher` differs from the gateway's record of it, member by member, in words."""
    found: list[str] = []
    for item in fields(Voucher):
        theirs, ours = getattr(voucher, item.name), getattr(recorded, item.name)
        if theirs == ours:
            continue
        words = _WORDS[item.name]
        if item.name == "signature":
            found.append("the voucher's signature differs from the one the gateway recorded")
        elif item.name == "datasets":
            found.append(
                f"the voucher's datasets are {_listed(theirs)} but the gateway recorded "
                f"{_listed(ours)}"
            )
        else:
            found.append(f"the voucher's {words} is {theirs} but the gateway recorded {ours}")
    return found


def _listed(datasets: tuple[str, ...]) -> str:
    return ", ".join(datasets) if datasets else "none"
