"""An approved access request becomes a grant in the served policy (Art. 19 para 2).

The approval's author rules (`AccessRequest.rules`, one per field) are appended to the
deployment's author-rules file (`[policy] rules`) under a comment naming the case, and the
files are then published like a reload: a new `policy_versions` row whose publication records
the administrator (agency, officer) and the government's decision reference as its approval,
so `govgate catalog history` says which decision each added rule came from. Every gateway
process follows the new row (gateway.policy.sync); the one that published adopts it at once.

Why the file and not only the published row: the file is what policy authors edit and what
every reload and start-up reads. A grant only in the database would show as a removal at the
next reload (refused without an approval, Art. 9) and be dropped at the next start-up.

What is refused, with nothing written: a deployment without a rules file, or one the gateway
may not write; files that carry unpublished *removals* (those need their own approval, never a
ride on an access decision). Additions already in the files are published with it, as any
reload would. After publishing, each field is checked the way `explain` decides it: a deny
rule overrides the new allow, and the administrator is told so (`Published.warnings`).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import tempfile
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from gateway.policy.served import PolicyTexts
from gateway.policy.sync import Publication
from gateway.workflows._core import stamp
from gateway.workflows.errors import WorkflowError
from gateway.workflows.grant_rules import with_grant_rules
from policies.diff import diff_policies
from policies.errors import PolicyError
from policies.explain import explain

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import date, datetime
    from pathlib import Path

    from gateway.policy.sync import PolicyStore
    from gateway.settings import Settings
    from gateway.workflows.access import AccessRequest
    from gateway.workflows.types import Actor
    from policies.grants import Policy

__all__ = ["GrantNotPublishedError", "Published", "publish_approval", "require_rules_file"]

_LOCK = asyncio.Lock()


class GrantNotPublishedError(WorkflowError):
    """The approval's grant could not be put into the served policy; the message says why."""

    code = "GRANT_NOT_PUBLISHED"


@dataclass(frozen=True, slots=True, kw_only=True)
class Published:
    """What publishing an approval did."""

    #: The `policy_versions` row now in force (its number in `govgate catalog history`).
    policy_id: int
    version: str
    #: The author-rule lines the rules file gained (none when they were there already).
    added_lines: tuple[str, ...]
    #: Sentences for the administrator: a field the agency still cannot read, and why.
    warnings: tuple[str, ...] = ()


def require_rules_file(settings: Settings) -> Path:
    """The deployment's author-rules file, checked to be writable; else GrantNotPublishedError.

    Checked before a decision is recorded, so an approval is never recorded that cannot
    become a grant.
    """
    path = settings.rules
    if path is None:
        raise GrantNotPublishedError(
            "This deployment has no author-rules file ([policy] rules), where an approval's "
            "grant is written; add one (an empty file will do), restart the gateway, and "
            "record the decision again."
        )
    target = path if path.exists() else path.parent
    if not os.access(target, os.W_OK) or not os.access(path.parent, os.W_OK):
        raise GrantNotPublishedError(
            f"The gateway may not write the author-rules file {path} (or its folder), where an "
            "approval's grant is written; let the gateway's user write both, then record the "
            "decision again."
        )
    return path


async def publish_approval(
    request: AccessRequest,
    *,
    settings: Settings,
    store: PolicyStore,
    baseline: Policy,
    by: Actor,
    now: datetime,
    day: date,
) -> Published:
    """Write `request`'s rules into the rules file and publish the files (see the module).

    `baseline` is the policy in force, decided as of `day`. Raises GrantNotPublishedError.
    """
    if request.decision != "approved" or not request.rules:
        raise GrantNotPublishedError(
            f"Access request {request.id} is not approved, so it has no grant to publish."
        )
    path = require_rules_file(settings)
    async with _LOCK:
        with _folder_lock(path.parent):
            try:
                texts = await asyncio.to_thread(PolicyTexts.read, _with_rules_file(settings))
            except PolicyError as error:
                raise GrantNotPublishedError(f"{error} Fix the files, publish again.") from None
            added = _missing(texts.rules or "", request.rules)
            rules = with_grant_rules(texts.rules, request.rules, case_id=request.id, at=stamp(now))
            texts = replace(texts, rules=rules, rules_name=str(path))
            try:
                policy = await asyncio.to_thread(texts.build, day)
            except PolicyError as error:
                raise GrantNotPublishedError(
                    f"The rules file with the approval's lines does not compile ({error}); fix "
                    f"{path}, then publish again."
                ) from None
            if baseline.day != day:
                baseline = await asyncio.to_thread(_decided, baseline, day)
            diff = diff_policies(baseline, policy)
            if diff.reductions:
                listed = "; ".join(change.describe() for change in diff.reductions)
                raise GrantNotPublishedError(
                    f"The catalogue or rules files carry changes not yet in force that remove "
                    f"shared information ({listed}); those need their own approval (Art. 9): "
                    "reload them with `govgate policy reload --approval REF` first, then "
                    f"publish {request.id} again. Nothing was written."
                )
            if added:
                await asyncio.to_thread(_write_atomically, path, rules)
            latest = await store.latest()
            if latest is not None and latest.version == policy.version:
                policy_id = latest.id  # in force already (published before): nothing new
            else:
                publication = Publication(
                    catalog_version=policy.catalog.version,
                    occasion="reload",
                    agency=by.agency,
                    officer=by.officer,
                    approval=request.decision_reference,
                    added=len(diff.additions),
                )
                policy_id = await store.publish(texts, policy, at=stamp(now),
                                                publication=publication)  # fmt: skip
    return Published(
        policy_id=policy_id,
        version=policy.version,
        added_lines=added,
        warnings=_still_denied(policy, request),
    )


def _with_rules_file(settings: Settings) -> Settings:
    """`settings` reading a rules file that may not exist yet as empty (first approval)."""
    if settings.rules is not None and not settings.rules.exists():
        settings.rules.write_text("", "utf-8")
    return settings


def _decided(policy: Policy, day: date) -> Policy:
    from policies.grants import Policy  # noqa: PLC0415 (a runtime need only here)

    return Policy.load(policy.catalog, policy.compiled, day=day)


def _missing(rules: str, lines: tuple[str, ...]) -> tuple[str, ...]:
    """The `lines` the rules text does not hold yet (with_grant_rules appends exactly these)."""
    present = {line.strip() for line in rules.split("\n")}
    return tuple(line for line in lines if line.strip() not in present)


def _still_denied(policy: Policy, request: AccessRequest) -> tuple[str, ...]:
    """A sentence for each approved field the agency still cannot read under its duty."""
    found = []
    grants = policy.grants_for(request.agency, request.duty)
    for field in request.pending:
        if grants.can("query", field):
            continue
        why = explain(policy, request.agency, field, "query", request.duty)
        found.append(
            f"{request.agency} still cannot read {field} under its duty {request.duty}: "
            f"{why.reason} ({why.source or 'no rule'}); a deny overrides the approval's allow, "
            "so remove or end the deny in the rules file and reload."
        )
    return tuple(found)


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock on `folder`, held across processes (the CLI and every gateway)."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)


def _write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` whole: a reader sees the old file or the new, never half."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
