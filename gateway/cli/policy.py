"""`govgate policy check | compile | explain | grants | reload`: the catalogue's policies."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from gateway.cli._options import (
    catalog_option,
    data_option,
    date_option,
    duty_option,
    fail,
    load_inputs,
    policy_option,
    rules_option,
)
from gateway.errors import GatewayError
from gateway.policy.history import approval_reference
from policies.catalog import SHIPPED_CATALOG, load_catalog
from policies.compiler import compile_policy, write_policy
from policies.derivations import exposures
from policies.enforcer import read_compiled
from policies.errors import PolicyError
from policies.explain import explain
from policies.grants import Policy
from sources.inventory import SOURCES

__all__ = ["policy_group"]


@click.group("policy")
def policy_group() -> None:
    """Check, compile and explain the sharing catalogue's Casbin policies."""


@policy_group.command("check")
@catalog_option
@rules_option
@date_option
def check_command(catalog_path: Path, rules_path: Path | None, day: datetime | None) -> None:
    """Validate the catalogue and author rules; print every problem; exit 1 if any.

    Then warn (exit 0) for every agency that reads a field whose value reveals a field it is
    not granted and that the catalogue does not acknowledge (docs/catalog.md).
    """
    try:
        catalog = load_catalog(catalog_path)
    except PolicyError as error:
        click.echo(str(error), err=True)
        click.echo("(Author rules are checked once the catalogue has no problems.)", err=True)
        sys.exit(1)
    try:
        _, rules = load_inputs(catalog_path, rules_path)
        # Only the decisions the derivation check needs are asked for (precompute=False).
        compiled = compile_policy(catalog, rules)
        policy = Policy.load(catalog, compiled, day=day.date() if day else None, precompute=False)
    except PolicyError as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    fields = sum(len(d.fields) for d in catalog.datasets)
    click.echo(
        f"{catalog_path}: no problems. {_count(catalog.agencies, 'agency', 'agencies')}, "
        f"{_count(catalog.duties, 'duty', 'duties')}, "
        f"{_count(catalog.datasets, 'dataset', 'datasets')}, {fields} field entries, "
        f"{_count(rules, 'author rule', 'author rules')}."
    )
    found = exposures(policy)
    warnings = [exposure for exposure in found if exposure.reason is None]
    for exposure in warnings:
        click.echo(exposure.warning(catalog), err=True)
    click.echo(
        f"Derivations (a granted field that reveals one not granted) on {policy.day}: "
        f"{len(found) - len(warnings)} acknowledged in the catalogue, "
        f"{_count(tuple(warnings), 'warning', 'warnings')}"
        + (" (warnings do not fail the check)." if warnings else ".")
    )


def _count(items: tuple[object, ...], one: str, many: str) -> str:
    return f"{len(items)} {one if len(items) == 1 else many}"


@policy_group.command("compile")
@catalog_option
@rules_option
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write model.conf and policy.csv into.",
)
def compile_command(catalog_path: Path, rules_path: Path | None, out_dir: Path) -> None:
    """Compile the catalogue (and author rules) into Casbin model.conf and policy.csv."""
    try:
        catalog, rules = load_inputs(catalog_path, rules_path)
        compiled = compile_policy(catalog, rules)
    except PolicyError as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    try:
        written = write_policy(compiled, out_dir)
    except OSError as error:
        fail(f"cannot write the policy into {out_dir} ({error.strerror}); pick another --out.")
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"policy version {compiled.version}")


def _policy_for(
    catalog_path: Path, rules_path: Path | None, policy_dir: Path | None, when: datetime | None
) -> Policy:
    # One-off questions compute only the grants they ask about (precompute=False).
    day = when.date() if when else date.today()
    catalog, rules = load_inputs(catalog_path, rules_path)
    if policy_dir is not None:
        return Policy.load(catalog, read_compiled(policy_dir), day=day, precompute=False)
    return Policy.load(catalog, compile_policy(catalog, rules), day=day, precompute=False)


@policy_group.command("explain")
@click.option("--agency", required=True, help="Agency code, e.g. TH-CA.")
@click.option("--field", "ref", required=True, help="Type.field, e.g. Person.maritalStatus.")
@click.option(
    "--method", type=click.Choice(["query", "verify"]), default="query", show_default=True
)
@catalog_option
@rules_option
@policy_option
@date_option
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
@duty_option
def explain_command(
    agency: str,
    ref: str,
    method: str,
    duty: str | None,
    catalog_path: Path,
    rules_path: Path | None,
    policy_dir: Path | None,
    day: datetime | None,
    as_json: bool,
) -> None:
    """Explain one decision. Exit 0 when allowed, 1 when denied, 2 on bad input."""
    try:
        policy = _policy_for(catalog_path, rules_path, policy_dir, day)
        result = explain(policy, agency, ref, method, duty)
    except (PolicyError, ValueError) as error:
        fail(str(error))
    if as_json:
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
    else:
        verdict = "ALLOWED" if result.allowed else "DENIED"
        under = f" under its duty {duty}" if duty else ""
        click.echo(f"{verdict}: {result.agency}{under} {result.method} {result.field} on "
                   f"{result.day}")  # fmt: skip
        click.echo(f"  rule:    {result.rule or '(none matched: default deny)'}")
        click.echo(f"  entry:   {result.entry}")
        click.echo(f"  article: {result.article}")
        click.echo(f"  reason:  {result.reason}")
        for line in result.revealed_by:
            click.echo(f"  revealed by: {line}")
    sys.exit(0 if result.allowed else 1)


@policy_group.command("grants")
@click.option("--agency", required=True, help="Agency code, e.g. PY-TAX.")
@catalog_option
@rules_option
@policy_option
@date_option
@click.option("--json", "as_json", is_flag=True, help="Print the grants as JSON.")
@duty_option
def grants_command(
    agency: str,
    duty: str | None,
    catalog_path: Path,
    rules_path: Path | None,
    policy_dir: Path | None,
    day: datetime | None,
    as_json: bool,
) -> None:
    """List what an agency may read and verify, and which records it sees."""
    try:
        policy = _policy_for(catalog_path, rules_path, policy_dir, day)
        grants = policy.grants_for(agency, duty)
    except PolicyError as error:
        fail(str(error))
    data: dict[str, Any] = {
        "agency": agency,
        "duty": duty,
        "day": grants.day.isoformat(),
        "administrator": grants.administrator,
        "types": {
            source.entity: {
                "scope": grants.scopes[source.entity].kind,
                "division": grants.scopes[source.entity].division,
                "query": list(grants.fields(source.entity, "query")),
                "verify": list(grants.fields(source.entity, "verify")),
            }
            for source in SOURCES.values()
        },
    }
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    click.echo(
        f"{agency}{f' under its duty {duty}' if duty else ''} as of {data['day']}"
        + (" (platform administrator)" if grants.administrator else "")
    )
    for entity, info in data["types"].items():
        scope = info["scope"] + (f" {info['division']}" if info["division"] else "")
        click.echo(f"  {entity} [{scope}]")
        click.echo(f"    query:  {', '.join(info['query']) or '-'}")
        click.echo(f"    verify: {', '.join(info['verify']) or '-'}")


@policy_group.command("reload")
@click.option(
    "--url", default="http://127.0.0.1:8000", show_default=True, help="The running gateway."
)
@data_option("Demo folder whose development key signs the administrator's token.")
@click.option(
    "--token",
    "token",
    default=None,
    envvar="GOVGATE_ADMIN_TOKEN",
    help="The platform administrator's token (instead of the development key).",
)
@click.option(
    "--approval",
    default=None,
    metavar="REF",
    help="The government's approval reference: required when the new files remove shared "
    "information (Art. 9); recorded in `govgate catalog history`.",
)
def reload_command(url: str, data_dir: Path, token: str | None, approval: str | None) -> None:
    """Make a running gateway load the catalogue and author rules again, without a restart.

    A catalogue or rules file with problems is refused with every problem listed, and the
    policy in force stays (Art. 19); so are files that remove shared information without
    --approval, with each removal listed (Art. 9). Exit 0 when the new policy is in force, 1
    when refused.
    """
    import httpx  # noqa: PLC0415

    from gateway.identity.dev_keys import dev_signing_key, issue_token  # noqa: PLC0415

    try:
        if token is None:
            administrator = load_catalog(SHIPPED_CATALOG).administrator
            token = issue_token(dev_signing_key(data_dir), agency=administrator, ttl_seconds=300)
        body = None if approval is None else {"approval": approval_reference(approval)}
        response = httpx.post(f"{url.rstrip('/')}/admin/policy/reload", json=body,
                              headers={"Authorization": f"Bearer {token}"}, timeout=60)  # fmt: skip
    except (PolicyError, GatewayError) as error:
        fail(str(error))
    except ValueError as error:
        fail(f"--approval: {error}")
    except httpx.HTTPError as error:
        fail(f"cannot reach the gateway at {url} ({error}); is it running?")
    answer = response.json()
    if response.status_code == 200:
        change = "new policy" if answer["changed"] else "unchanged"
        click.echo(f"policy {answer['previousVersion']} -> {answer['policyVersion']} ({change})")
        if answer.get("approval") and answer["changed"]:
            click.echo(f"approval {answer['approval']} recorded (govgate catalog history)")
        return
    message = answer["errors"][0]["message"] if answer.get("errors") else response.text
    click.echo(message, err=True)
    sys.exit(1)
