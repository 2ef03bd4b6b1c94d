"""`govgate objections ...`: the platform's and the provider's checks, and the correction.

Each step within 3 working days (Art. 22); confirming reads the provider's database and
notifies every earlier recipient (docs/workflows.md). See gateway.cli.requests.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from gateway.cli._options import deployment_options
from gateway.cli._workflows import (
    AS_AGENCY,
    AS_JSON,
    OFFICER,
    WAITING,
    WRONG_SINCE,
    Deployment,
    actor_of,
    as_json,
    china_time,
    did,
    due,
    objection_lines,
    run,
    table,
    warn_deadlines,
)

if TYPE_CHECKING:
    from datetime import datetime

    from gateway.settings import Settings

__all__ = ["objections_group"]


@click.group("objections")
def objections_group() -> None:
    """Objections (Art. 22): check, report, confirm a correction."""


@objections_group.command("list")
@deployment_options
@AS_AGENCY
@WAITING
@AS_JSON
def list_objections(
    *, settings: Settings, agency: str | None, waiting: bool, as_json_flag: bool
) -> None:
    """The objections the agency is party to (the administrator: all), newest first."""

    async def work(d: Deployment) -> None:
        actor = actor_of(d, agency, None)
        role = None if actor.agency == d.administrator else "provider"
        found = await d.objections().for_agency(actor, role=role, waiting=waiting)
        if as_json_flag:
            click.echo(json.dumps([as_json(f) for f in found], ensure_ascii=False, indent=2))
            return
        rows = [
            (f.id, f.agency, f.record, f.field, f.provider, f.status, due(f.deadline))
            for f in found
        ]
        click.echo(
            table(("case", "agency", "record", "field", "provider", "status", "deadline"), rows)
        )
        warn_deadlines(f.deadline for f in found)

    run(settings, work)


@objections_group.command("show")
@click.argument("case_id")
@deployment_options
@AS_AGENCY
@AS_JSON
def show_objection(
    *, settings: Settings, case_id: str, agency: str | None, as_json_flag: bool
) -> None:
    """One objection with its history."""

    async def work(d: Deployment) -> None:
        found = await d.objections().get(actor_of(d, agency, None), case_id)
        if as_json_flag:
            click.echo(json.dumps(as_json(found), ensure_ascii=False, indent=2))
        else:
            click.echo("\n".join(objection_lines(found)))

    run(settings, work)


@objections_group.command("check")
@click.argument("case_id")
@click.option(
    "--technical/--not-technical",
    required=True,
    default=None,
    help="A technical cause the platform corrected, or not (to the provider).",
)
@click.option("--reason", required=True, help="Why.")
@WRONG_SINCE
@deployment_options
@OFFICER
def check_objection(
    *,
    settings: Settings,
    case_id: str,
    technical: bool,
    reason: str,
    wrong_since: datetime | None,
    officer: str,
) -> None:
    """The platform's check, within 3 working days (administrator)."""

    async def work(d: Deployment) -> None:
        actor = actor_of(d, None, officer)
        done = await d.objections().check(
            actor, case_id, technical=technical, reason=reason, wrong_since=china_time(wrong_since)
        )
        click.echo(did(done.id, "checked", actor, done.status, done.notified))

    run(settings, work)


@objections_group.command("report")
@click.argument("case_id")
@click.option(
    "--source-wrong/--source-right",
    "source_wrong",
    required=True,
    default=None,
    help="Whether the source record was wrong.",
)
@click.option("--reason", required=True, help="Why.")
@WRONG_SINCE
@deployment_options
@AS_AGENCY
@OFFICER
def report_objection(
    *,
    settings: Settings,
    case_id: str,
    source_wrong: bool,
    reason: str,
    wrong_since: datetime | None,
    agency: str | None,
    officer: str,
) -> None:
    """The provider's check, within 3 working days (use --as PROVIDER)."""

    async def work(d: Deployment) -> None:
        actor = actor_of(d, agency, officer)
        done = await d.objections().report(
            actor,
            case_id,
            source_wrong=source_wrong,
            reason=reason,
            wrong_since=china_time(wrong_since),
        )
        click.echo(did(done.id, "reported on", actor, done.status, ()))

    run(settings, work)


@objections_group.command("confirm")
@click.argument("case_id")
@click.option("--reason", default=None, help="A note.")
@deployment_options
@AS_AGENCY
@OFFICER
def confirm_objection(
    *, settings: Settings, case_id: str, reason: str | None, agency: str | None, officer: str
) -> None:
    """Confirm the correction made in the provider's database; recipients are notified."""

    async def work(d: Deployment) -> None:
        actor = actor_of(d, agency, officer)
        done = await d.objections().confirm_correction(actor, case_id, reason=reason)
        click.echo(did(done.id, "correction confirmed", actor, done.status, done.notified))
        click.echo(f"{done.superseded_vouchers} voucher(s) superseded.")

    run(settings, work)
