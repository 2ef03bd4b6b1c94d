"""What the workflow commands share: the deployment, the options, how cases are printed.

`open_deployment(settings)` opens the deployment's database (refusing a SQLite file that does
not exist: the gateway creates it when it first serves), its audit log signed with the
gateway's own key, its sources, and the policy in force: the newest published one (what every
gateway serves), else the files.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click
from sqlalchemy.exc import SQLAlchemyError

from gateway.cli._options import fail
from gateway.errors import GatewayError
from gateway.http.workflows.service import Workflows
from gateway.policy.served import PolicyTexts
from gateway.policy.sync import PolicyStore
from gateway.trust.audit.store import AuditStore
from gateway.trust.keyring import Keyring
from gateway.workflows.errors import WorkflowError, WorkflowStoreError
from gateway.workflows.types import Actor
from gateway.workflows.working_days import CHINA
from policies.catalog import parse_catalog
from policies.grants import Policy
from sources.engines import make_engine, sqlite_path

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Sequence

    from sqlalchemy.ext.asyncio import AsyncEngine

    from gateway.settings import Settings
    from gateway.workflows.access import AccessRequest, AccessRequests
    from gateway.workflows.objections import Objection, Objections
    from gateway.workflows.types import WorkflowEvent

__all__ = [
    "AS_AGENCY",
    "AS_JSON",
    "OFFICER",
    "WAITING",
    "WRONG_SINCE",
    "Deployment",
    "access_lines",
    "actor_of",
    "as_json",
    "china_time",
    "did",
    "due",
    "objection_lines",
    "open_deployment",
    "run",
    "table",
    "warn_deadlines",
]


@dataclasses.dataclass
class Deployment:
    """The workflows of one deployment, opened for a command, and the policy they act under."""

    workflows: Workflows
    policy: Policy
    engines: dict[str, AsyncEngine]

    @property
    def administrator(self) -> str:
        """The platform administrator's code: whom the commands act as by default."""
        return self.policy.catalog.administrator

    def access(self) -> AccessRequests:
        """Access requests, recorded with `case:step` request ids."""
        return self.workflows.access(self.policy)

    def objections(self) -> Objections:
        """Objections (confirming reads the provider's source)."""
        return self.workflows.objections(self.policy)

    async def close(self) -> None:
        """Release every connection."""
        await self.workflows.close()
        await self.workflows.audit.close()
        for engine in self.engines.values():
            await engine.dispose()


async def open_deployment(settings: Settings) -> Deployment:
    """Open the deployment's workflows (see the module). Raises WorkflowStoreError."""
    path = sqlite_path(settings.audit_url)
    if path is not None and not path.exists():
        raise WorkflowStoreError(
            f"There is no gateway database at {path}: the gateway creates it when it first "
            "serves; check --data or the [audit] url in --config."
        )
    audit = AuditStore(settings.audit_url, signer=Keyring.open(settings.signing_keys).sign)
    engines = {name: make_engine(url) for name, url in settings.sources.items()}
    policies = PolicyStore(audit.engine)
    try:
        policy = await _in_force(policies, settings)
        workflows = Workflows(settings=settings, audit=audit, policies=policies,
                              engines=engines, policy=_fixed(policy))  # fmt: skip
        await workflows.start()
    except BaseException:
        await audit.close()
        for engine in engines.values():
            await engine.dispose()
        raise
    return Deployment(workflows=workflows, policy=policy, engines=engines)


async def _in_force(policies: PolicyStore, settings: Settings) -> Policy:
    """The newest published policy (what the gateways serve), else the files' (as of today)."""
    day = datetime.now(UTC).astimezone().date()
    await policies.create()
    latest = await policies.latest()
    if latest is None:
        return await asyncio.to_thread(PolicyTexts.read(settings).build, day)
    if latest.grants.get("day") == day.isoformat():
        catalog = parse_catalog(latest.texts.catalog, name=latest.texts.catalog_name)
        return Policy.with_grants(catalog, latest.compiled, day, latest.grants)
    return await asyncio.to_thread(latest.texts.build, day)


def _fixed(policy: Policy) -> Callable[[], Awaitable[Policy]]:
    async def current() -> Policy:
        return policy

    return current


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A plain text table (or a line saying there is nothing)."""
    rows = [tuple(str(c) for c in row) for row in rows]
    if not rows:
        return "No cases."
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = [tuple(headers), tuple("-" * w for w in widths), *rows]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in lines)  # fmt: skip


def as_json(case: AccessRequest | Objection) -> dict[str, Any]:
    """A case as JSON (its deadline and history included)."""
    out = {k: v for k, v in _plain(case).items() if k not in {"history", "deadline"}}
    remaining = case.deadline
    out["deadline"] = None if remaining is None else {
        "day": remaining.deadline.day.isoformat(), "left": remaining.left,
        "overdue": remaining.overdue, "warnings": list(remaining.warnings),
    }  # fmt: skip
    out["history"] = [_plain(e) for e in case.history]
    return out


def access_lines(case: AccessRequest) -> list[str]:
    """An access request in words, then its history."""
    lines = [
        f"{case.id}  {case.status}  {case.agency} for its duty {case.duty}, filed {case.filed_at}",
        f"  asked for: {', '.join(case.fields)}",
        *(f"  already granted: {f} by {e}" for f, e in sorted(case.entries.items())),
        f"  pending: {', '.join(case.pending) or '-'} "
        f"(providers {', '.join(case.providers) or '-'})",
    ]
    if case.decision:
        lines.append(f"  decision: {case.decision} {case.decision_reference or ''}".rstrip())
    lines += _deadline_lines(case.deadline, "provision deadline (Art. 19)")
    return [*lines, *_history_lines(case.history)]


def objection_lines(case: Objection) -> list[str]:
    """An objection in words, then its history."""
    lines = [
        f"{case.id}  {case.status}  {case.agency} disputes {case.record} {case.field}, filed "
        f"{case.filed_at}",
        f"  provider: {case.provider}; outcome: {case.outcome or '-'}",
    ]
    if case.notified:
        lines.append(f"  notified: {', '.join(case.notified)}; {case.superseded_vouchers} "
                     "voucher(s) superseded")  # fmt: skip
    lines += _deadline_lines(case.deadline, "check deadline (Art. 22)")
    return [*lines, *_history_lines(case.history)]


def _deadline_lines(remaining: Any, what: str) -> list[str]:
    if remaining is None:
        return []
    state = "OVERDUE" if remaining.overdue else f"{remaining.left} working days left"
    lines = [f"  {what}: {remaining.deadline.day} ({state})"]
    return lines + [f"  warning: {w}" for w in remaining.warnings]


def _history_lines(events: Sequence[WorkflowEvent]) -> list[str]:
    lines = ["  history:"]
    for e in events:
        who = f"{e.agency}" + (f" ({e.officer})" if e.officer else "")
        why = f": {e.reason}" if e.reason else ""
        lines.append(f"    {e.step}. {e.at} {e.action} -> {e.state} by {who}{why}")
    return lines


def _plain(value: Any) -> dict[str, Any]:
    out = {}
    for field in dataclasses.fields(value):
        item = getattr(value, field.name)
        out[field.name] = list(item) if isinstance(item, tuple) else item
    if "entries" in out:
        out["entries"] = dict(out["entries"])
    if "detail" in out:
        out["detail"] = dict(out["detail"])
    return out


# -- options and output shared by the commands -------------------------------------------

OFFICER = click.option(
    "--officer",
    required=True,
    metavar="ID",
    help="The officer taking the step (recorded, Art. 29).",
)
AS_AGENCY = click.option(
    "--as",
    "agency",
    default=None,
    metavar="CODE",
    help="Act for this agency (a provider's step); default: the administrator.",
)
AS_JSON = click.option("--json", "as_json_flag", is_flag=True, help="Print JSON.")
WAITING = click.option("--waiting", is_flag=True, help="Only cases waiting for a step.")


def run(settings: Settings, work: Callable[[Deployment], Awaitable[None]]) -> None:
    async def main() -> None:
        deployment = await open_deployment(settings)
        try:
            await work(deployment)
        finally:
            await deployment.close()

    try:
        asyncio.run(main())
    except WorkflowError as error:
        fail(f"{error} [{error.code}]", code=1)
    except GatewayError as error:  # the deployment file or the working-day file
        fail(str(error))
    except (SQLAlchemyError, OSError) as error:
        fail(
            f"cannot reach the gateway's database at {settings.audit_url} "
            f"({type(error).__name__}); check the URL and that the database is up."
        )


def actor_of(deployment: Deployment, agency: str | None, officer: str | None) -> Actor:
    return Actor(agency=agency or deployment.administrator, officer=officer)


def china_time(value: datetime | None) -> datetime | None:
    """A time given on the command line, read as China time unless it names its zone."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=CHINA)


WRONG_SINCE = click.option(
    "--wrong-since",
    type=click.DateTime(["%Y-%m-%dT%H:%M", "%Y-%m-%d"]),
    default=None,
    help="Since when the value was wrong (China time).",
)


def did(case_id: str, what: str, actor: Actor, status: str, notified: tuple[str, ...]) -> str:
    line = f"{case_id} {what} by {actor.agency} (officer {actor.officer}); it is now {status}."
    if notified:
        line += f" Notified: {', '.join(notified)}."
    return line


def due(remaining: Any) -> str:
    if remaining is None:
        return "-"
    if remaining.overdue:
        return f"{remaining.deadline.day} OVERDUE"
    return f"{remaining.deadline.day} ({remaining.left} working days left)"


def warn_deadlines(deadlines: Any) -> None:
    seen: dict[str, None] = {}
    for remaining in deadlines:
        for warning in getattr(remaining, "warnings", ()) if remaining else ():
            seen.setdefault(warning)
    for warning in seen:
        click.echo(f"warning: {warning}", err=True)
