"""`govgate requests ...` and `govgate objections ...`: the workflows for operators.

    govgate requests list [--waiting] [--json]      govgate objections list [--waiting] [--json]
    govgate requests show ID [--json]               govgate objections show ID [--json]
    govgate requests forward ID --reference REF     govgate objections check ID --technical|
    govgate requests decide ID --approve|--refuse       --not-technical --reason TEXT
        [--reference REF] [--reasons TEXT]          govgate objections report ID --as PROVIDER
        [--until DAY]                                   --source-wrong|--source-right --reason TEXT
    govgate requests available ID --as PROVIDER     govgate objections confirm ID
    govgate requests publish ID

Each acts as the platform administrator (`--as` another agency for a provider's step) with the
officer `--officer` (Art. 29, 34), on the deployment of `--data DIR` or `--config FILE`, records
the step in the audit log like the console does, and prints what it did. An approval is
published as a grant; running gateways follow it within a second (gateway.policy.sync).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from gateway.cli._options import deployment_options, fail
from gateway.cli._workflows import (
    AS_AGENCY,
    AS_JSON,
    OFFICER,
    WAITING,
    Deployment,
    access_lines,
    actor_of,
    as_json,
    due,
    run,
    table,
    warn_deadlines,
)
from gateway.cli.objections import objections_group

if TYPE_CHECKING:
    from datetime import date, datetime

    from gateway.settings import Settings

__all__ = ["objections_group", "requests_group"]

# -- requests ---------------------------------------------------------------------------------


@click.group("requests")
def requests_group() -> None:
    """Access requests (Art. 19): forward, decide, make available."""


@requests_group.command("list")
@deployment_options
@AS_AGENCY
@WAITING
@AS_JSON
def list_requests(
    *, settings: Settings, agency: str | None, waiting: bool, as_json_flag: bool
) -> None:
    """The requests the agency is party to (the administrator: all), newest first."""

    async def work(d: Deployment) -> None:
        actor = actor_of(d, agency, None)
        role = None if actor.agency == d.administrator else "provider"
        found = await d.access().for_agency(actor, role=role, waiting=waiting)
        if as_json_flag:
            click.echo(json.dumps([as_json(f) for f in found], ensure_ascii=False, indent=2))
            return
        rows = [
            (f.id, f.agency, f.duty, ", ".join(f.pending or f.fields), f.status, due(f.deadline))
            for f in found
        ]
        click.echo(table(("case", "agency", "duty", "fields", "status", "deadline"), rows))
        warn_deadlines(f.deadline for f in found)

    run(settings, work)


@requests_group.command("show")
@click.argument("case_id")
@deployment_options
@AS_AGENCY
@AS_JSON
def show_request(
    *, settings: Settings, case_id: str, agency: str | None, as_json_flag: bool
) -> None:
    """One request with its history."""

    async def work(d: Deployment) -> None:
        found = await d.access().get(actor_of(d, agency, None), case_id)
        if as_json_flag:
            click.echo(json.dumps(as_json(found), ensure_ascii=False, indent=2))
        else:
            click.echo("\n".join(access_lines(found)))

    run(settings, work)


@requests_group.command("forward")
@click.argument("case_id")
@click.option("--reference", required=True, help="The reference it is forwarded under.")
@click.option("--reason", default=None, help="A note.")
@deployment_options
@OFFICER
def forward_request(
    *, settings: Settings, case_id: str, reference: str, reason: str | None, officer: str
) -> None:
    """Forward a filed request to the government (administrator)."""

    async def work(d: Deployment) -> None:
        actor = actor_of(d, None, officer)
        done = await d.access().forward(actor, case_id, reference=reference, reason=reason)
        click.echo(
            f"{done.id} forwarded by {actor.agency} (officer {officer}) with reference "
            f"{done.forwarded_reference}; it is now {done.status}."
        )

    run(settings, work)


@requests_group.command("decide")
@click.argument("case_id")
@click.option(
    "--approve/--refuse", "approved", required=True, default=None, help="The government's decision."
)
@click.option("--reference", default=None, help="The decision's reference (required to approve).")
@click.option("--reasons", default=None, help="Why (required to refuse).")
@click.option(
    "--until",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="The last day of a time-limited grant.",
)
@deployment_options
@OFFICER
def decide_request(
    *,
    settings: Settings,
    case_id: str,
    approved: bool,
    reference: str | None,
    reasons: str | None,
    until: datetime | None,
    officer: str,
) -> None:
    """Record the government's decision; an approval is published as a grant."""

    async def work(d: Deployment) -> None:
        actor = actor_of(d, None, officer)
        last: date | None = until.date() if until else None
        decided = await d.workflows.decide(
            actor, case_id, approved=approved, reference=reference, reasons=reasons, until=last
        )
        found = decided.request
        cited = f" with reference {found.decision_reference}" if found.decision_reference else ""
        click.echo(
            f"{found.id} {found.decision} by {actor.agency} (officer {officer}){cited}; "
            f"it is now {found.status}."
        )
        if decided.published is not None:
            click.echo(
                f"Grant published as policy @{decided.published.policy_id} "
                f"({decided.published.version}); rules added:"
            )
            for line in found.rules:
                click.echo(f"  {line}")
            if found.deadline is not None:
                click.echo(
                    f"Providers {', '.join(found.providers)} make it available by "
                    f"{due(found.deadline)} (Art. 19 para 2)."
                )
            for warning in decided.published.warnings:
                click.echo(f"warning: {warning}", err=True)
        if decided.problem:
            fail(f"the grant is NOT in force: {decided.problem}", code=1)

    run(settings, work)


@requests_group.command("available")
@click.argument("case_id")
@click.option("--reason", default=None, help="A note.")
@deployment_options
@AS_AGENCY
@OFFICER
def available_request(
    *, settings: Settings, case_id: str, reason: str | None, agency: str | None, officer: str
) -> None:
    """A providing agency marks the data available (use --as PROVIDER)."""

    async def work(d: Deployment) -> None:
        actor = actor_of(d, agency, officer)
        done = await d.access().mark_available(actor, case_id, reason=reason)
        click.echo(
            f"{done.id} marked available by {actor.agency} (officer {officer}); it is "
            f"now {done.status}."
        )

    run(settings, work)


@requests_group.command("publish")
@click.argument("case_id")
@deployment_options
@OFFICER
def publish_request(*, settings: Settings, case_id: str, officer: str) -> None:
    """Publish an approved request's grant again (after a failure; twice changes nothing)."""

    async def work(d: Deployment) -> None:
        decided = await d.workflows.publish(actor_of(d, None, officer), case_id)
        if decided.problem or decided.published is None:
            fail(f"the grant is NOT in force: {decided.problem}", code=1)
        click.echo(f"{case_id}: grant in force as policy @{decided.published.policy_id}.")

    run(settings, work)
