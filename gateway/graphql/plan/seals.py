"""A licence's seal, checked on every read against the row as its database holds it now.

The same check as `resolvers.records.checked_seal` (Art. 23, 24), over a plan's row: the
licence's sealed columns, and the seal registry's row for its key id, joined in the same
statement (so a page of licences costs one statement, registry included).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sources.seal import claimed_issuer, seal_holds

if TYPE_CHECKING:
    from collections.abc import Sequence

    from gateway.graphql.plan.model import SealColumns

__all__ = ["checked_seal"]


def checked_seal(row: Sequence[Any], where: SealColumns, flags: list[str]) -> dict[str, Any] | None:
    """The seal's values (issuer, algorithm, keyId, signature, valid), or None when the row
    carries no seal. A seal that does not hold is flagged for the audit log, once per licence
    and request: `seal-invalid:License:<number>`."""
    key_id = row[where.key_id]
    if key_id is None:
        return None
    record = {column: row[index] for column, index in where.record.items()}
    issuer = row[where.registry_issuer]  # None when the registry does not know the key
    valid = issuer is not None and seal_holds(
        record,
        issuer_code=issuer,
        algorithm=row[where.registry_algorithm],
        public_key_b64=row[where.registry_key],
    )
    if not valid:
        flag = f"seal-invalid:License:{record['license_number']}"
        if flag not in flags:
            flags.append(flag)
    return {
        "issuer": issuer if issuer is not None else claimed_issuer(key_id),
        "algorithm": record["seal_algorithm"],
        "keyId": key_id,
        "signature": record["seal_signature"],
        "valid": valid,
    }
