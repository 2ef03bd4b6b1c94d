"""Catalogue versions and their approvals (Art. 9): what was put into force, when, by whom.

Every policy a gateway serves is published to its database (`policy_versions`, with the
catalogue and author rules it was compiled from) and, beside it, why (`policy_publications`:
the occasion, the agency and officer who asked, the approval reference, what it removed). Art. 9
lets the catalogue change with supply and demand, but removing shared information needs the
government's approval, so a publication that removes anything (policies.diff) is refused
without an approval reference: `require_approval` raises ApprovalRequiredError listing each
reduction. Additions need none (Art. 19: in-catalogue access opens at once).

`history(store)` reads the record back for `govgate catalog history`; `resolve(store, ref)`
finds a published policy by `@latest`, `@N` (its number in the history) or `@` and a prefix of
its version hash, for `govgate catalog diff`.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from gateway.errors import GatewayError
from gateway.policy.sync import policy_publications, policy_versions
from policies.compiler import CompiledPolicy

if TYPE_CHECKING:
    from gateway.policy.sync import PolicyStore, StoredPolicy
    from policies.diff import PolicyDiff

__all__ = [
    "ApprovalRequiredError",
    "HistoryEntry",
    "approval_reference",
    "history",
    "require_approval",
    "resolve",
]

#: The longest approval reference kept (a document number, a ticket, a short note).
MAX_APPROVAL = 200
#: At least this many hex digits name a version by its hash; fewer digits are a number.
MIN_HASH_PREFIX = 6


class ApprovalRequiredError(GatewayError):
    """A new policy removes shared information and carries no approval reference (Art. 9)."""

    def __init__(self, diff: PolicyDiff) -> None:
        self.diff = diff
        lines = "\n".join(f"  - {change.describe()}" for change in diff.reductions)
        count = len(diff.reductions)
        super().__init__(
            f"The new policy ({diff.new_version}) removes shared information in {count} "
            f"{'place' if count == 1 else 'places'}, which needs the government's approval "
            "(Art. 9); the policy in force stays. Give the approval's reference (`govgate "
            'policy reload --approval REF`, or {"approval": "REF"} in the reload request), '
            f"or restore what was removed:\n{lines}"
        )


def require_approval(diff: PolicyDiff, approval: str | None) -> None:
    """Raise ApprovalRequiredError when `diff` removes anything and `approval` is None."""
    if diff.reductions and approval is None:
        raise ApprovalRequiredError(diff)


def approval_reference(value: object) -> str:
    """`value` as an approval reference; ValueError saying what one must look like."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(
            "The approval reference must be text naming the government's approval, e.g. "
            "GZ-GOV-2026-117."
        )
    text = value.strip()
    if len(text) > MAX_APPROVAL or any(unicodedata.category(c).startswith("C") for c in text):
        raise ValueError(
            f"The approval reference must be one line of at most {MAX_APPROVAL} characters "
            "without control characters; give the approval's number or reference."
        )
    return text


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One published policy: its number, version, catalogue version, when, who, approval."""

    number: int
    version: str
    catalog_version: str | None
    catalog_name: str
    published_at: str
    #: The process that wrote it (host:pid).
    published_by: str
    #: "start-up" or "reload"; None for policies published before publications were recorded.
    occasion: str | None
    agency: str | None
    officer: str | None
    approval: str | None
    removed: tuple[dict[str, Any], ...]
    added: int | None

    @property
    def who(self) -> str:
        """Who put it into force, in words."""
        if self.agency is not None:
            person = f" (officer {self.officer})" if self.officer else ""
            return f"{self.agency}{person}, {self.occasion}"
        if self.occasion is not None:
            return f"{self.occasion} of {self.published_by}"
        return self.published_by

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, as `govgate catalog history --json` prints it."""
        return {
            "number": self.number,
            "version": self.version,
            "catalogVersion": self.catalog_version,
            "catalog": self.catalog_name,
            "publishedAt": self.published_at,
            "publishedBy": self.published_by,
            "occasion": self.occasion,
            "agency": self.agency,
            "officer": self.officer,
            "approval": self.approval,
            "removed": list(self.removed),
            "added": self.added,
        }


async def history(store: PolicyStore) -> list[HistoryEntry]:
    """Every published policy, oldest first."""
    versions, publications = policy_versions.c, policy_publications.c
    columns = (
        versions.id, versions.version, versions.catalog_name, versions.policy,
        versions.published_at, versions.published_by, publications.catalog_version,
        publications.occasion, publications.agency, publications.officer,
        publications.approval, publications.removed, publications.added,
    )  # fmt: skip
    statement = (
        select(*columns)
        .select_from(
            policy_versions.outerjoin(policy_publications, publications.policy_id == versions.id)
        )
        .order_by(versions.id)
    )
    async with store.engine.connect() as connection:
        rows = (await connection.execute(statement)).mappings().all()
    return [
        HistoryEntry(
            number=int(row["id"]),
            version=str(row["version"]),
            catalog_version=row["catalog_version"]
            or CompiledPolicy(model="", policy=str(row["policy"])).catalog_version,
            catalog_name=str(row["catalog_name"]),
            published_at=str(row["published_at"]),
            published_by=str(row["published_by"]),
            occasion=row["occasion"],
            agency=row["agency"],
            officer=row["officer"],
            approval=row["approval"],
            removed=tuple(json.loads(row["removed"])) if row["removed"] else (),
            added=None if row["added"] is None else int(row["added"]),
        )
        for row in rows
    ]


_REFERENCE = re.compile(r"@(latest|\d+|[0-9a-f]+)")


async def resolve(store: PolicyStore, ref: str) -> StoredPolicy:
    """The published policy `ref` names: `@latest`, `@N` (its number in `catalog history`) or
    `@` and at least six hex digits of its version. Raises LookupError saying what exists."""
    match = _REFERENCE.fullmatch(ref.lower())
    if match is None:
        raise LookupError(
            f"{ref!r} names no published policy; write @latest, @N (a number from `govgate "
            "catalog history`) or @ and the first digits of a version."
        )
    name = match.group(1)
    if name == "latest":
        found = await store.latest()
        if found is None:
            raise LookupError("No policy has been published yet: the gateway publishes its "
                              "policy when it first starts.")  # fmt: skip
        return found
    if name.isdigit() and len(name) < MIN_HASH_PREFIX + 2:
        found = await store.stored(int(name))
        if found is None:
            raise LookupError(f"There is no published policy @{name}; `govgate catalog history` "
                              "lists them.")  # fmt: skip
        return found
    if len(name) < MIN_HASH_PREFIX:
        raise LookupError(
            f"@{name} is too short to name a version: give at least {MIN_HASH_PREFIX} of its hex "
            "digits (or its number, as `govgate catalog history` lists it)."
        )
    numbers = sorted({e.number for e in await history(store) if e.version.startswith(name)})
    if not numbers:
        raise LookupError(f"No published policy has a version starting {name}; `govgate catalog "
                          "history` lists them.")  # fmt: skip
    found = await store.stored(numbers[-1])  # the same version published twice: the newest
    if found is None:  # deleted between the two reads: report it as missing
        raise LookupError(f"The published policy @{numbers[-1]} is gone.")
    return found
