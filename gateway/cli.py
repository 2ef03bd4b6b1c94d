"""The `govgate` command line."""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from sqlalchemy.engine import make_url

from gateway._cli import data_option, fail
from gateway.audit.commands import audit_group
from gateway.backup_commands import backup_command, restore_command
from gateway.catalog_commands import catalog_group
from gateway.catalog_history import approval_reference
from gateway.errors import GatewayError
from gateway.token_commands import token_group
from gateway.vouchers import voucher_group
from gateway.workflows.commands import objections_group, requests_group  # issue 13 hook
from policies.catalog import SHIPPED_CATALOG, load_catalog
from policies.compiler import compile_policy, write_policy
from policies.derivations import exposures
from policies.enforcer import read_compiled
from policies.errors import PolicyError
from policies.explain import explain
from policies.grants import Policy
from policies.rules import default_rules_path, load_rules
from sources.engines import default_urls, parse_source_urls, sqlite_path
from sources.errors import SourceError
from sources.inventory import SOURCES
from sources.synthetic.seed import DEFAULT_AS_OF, SeedPlan, seed

if TYPE_CHECKING:
    from gateway.logs import LogFormat
    from gateway.settings import Settings
    from policies.catalog import Catalog
    from policies.rules import AuthorRule

__all__ = ["main"]

DEMO_PERSONS = 20_000


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="govgate")
def main() -> None:
    """govgate: share base data between agencies, by duty, as the sharing catalogue says."""


main.add_command(audit_group)
main.add_command(voucher_group)
main.add_command(backup_command)
main.add_command(restore_command)
main.add_command(token_group)
main.add_command(catalog_group)
main.add_command(requests_group)  # issue 13 hook: govgate requests ...
main.add_command(objections_group)  # issue 13 hook: govgate objections ...


@main.command("seed")
@data_option("Folder for the SQLite databases of sources without --source.")
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="NAME=URL",
    help="Put a source elsewhere, e.g. persons=postgresql+asyncpg://u@host/db. "
    "Repeatable; with any --source, only the named sources are seeded.",
)
@click.option("--persons", type=click.IntRange(min=0), default=10_000, show_default=True)
@click.option("--entities", type=click.IntRange(min=0), default=None, help="Default: persons / 5.")
@click.option("--parcels", type=click.IntRange(min=0), default=None, help="Default: persons / 4.")
@click.option("--licenses", type=click.IntRange(min=0), default=None, help="Default: persons / 2.")
@click.option(
    "--seed",
    "seed_value",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="The same seed (and --as-of) gives the same data, byte for byte.",
)
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help=f"The 'now' of the data (record ages). Default: {DEFAULT_AS_OF.date()}.",
)
@click.option("--replace", is_flag=True, help="Overwrite sources that already hold data.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Processes writing sources in parallel.",
)
def seed_command(
    data_dir: Path,
    sources: tuple[str, ...],
    persons: int,
    entities: int | None,
    parcels: int | None,
    licenses: int | None,
    seed_value: int,
    as_of: datetime | None,
    replace: bool,
    workers: int,
) -> None:
    """Generate the four base databases with synthetic, consistent data."""
    try:
        plan = SeedPlan(
            persons=persons,
            entities=persons // 5 if entities is None else entities,
            parcels=persons // 4 if parcels is None else parcels,
            licenses=persons // 2 if licenses is None else licenses,
            seed=seed_value,
            as_of=as_of.replace(tzinfo=UTC) if as_of else DEFAULT_AS_OF,
        )
        urls = parse_source_urls(sources) if sources else default_urls(data_dir)
        _run_seed(plan, urls, replace=replace, workers=workers)
    except SourceError as error:
        fail(str(error))


def _run_seed(plan: SeedPlan, urls: dict[str, str], *, replace: bool, workers: int) -> None:
    from tqdm import tqdm  # noqa: PLC0415 (only seeding draws a progress bar)

    total = sum(plan.count(source) for source in urls)
    with tqdm(total=total, unit=" records", unit_scale=True, desc="seeding",
              mininterval=0.5, file=sys.stderr, disable=None) as bar:  # fmt: skip

        def advance(_source: str, n: int) -> None:
            bar.update(n)

        results = seed(plan, urls, replace=replace, workers=workers, progress=advance)
    for result in sorted(results, key=lambda r: list(SOURCES).index(r.source)):
        url = urls[result.source]
        # Never echo a password a server URL may carry.
        where = sqlite_path(url) or make_url(url).render_as_string(hide_password=True)
        click.echo(
            f"{result.source:9} {result.records:>10,} records in {result.seconds:6.1f} s "
            f"(peak {result.peak_mib:,.0f} MiB)  -> {where}"
        )


# -- demo -------------------------------------------------------------------------------------


#: Agencies whose tokens `govgate demo` prints: the catalogue's acceptance cases.
DEMO_AGENCIES = ("GZ-PSB", "GZ-AMR", "GZ-PNR", "TH-CA", "PY-TAX", "GZ-WATER", "GZ-DATA")
DEMO_TOKEN_TTL = 12 * 3600


@main.command("demo")
@data_option("Folder for the demo databases, policy and development key.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--no-serve", is_flag=True, help="Prepare the data and policy, print tokens, exit.")
def demo_command(data_dir: Path, host: str, port: int, no_serve: bool) -> None:
    """Seed demo data if missing, compile the catalogue, print tokens, serve GraphiQL."""
    from gateway.keys import dev_signing_key, issue_token  # noqa: PLC0415
    from gateway.settings import Settings  # noqa: PLC0415

    urls = default_urls(data_dir)
    missing = {s: u for s, u in urls.items() if not (p := sqlite_path(u)) or not p.exists()}
    try:
        if missing:
            # As of this hour, so the demo's datasets start fresh (Art. 17, `freshness`).
            now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
            plan = dataclasses.replace(SeedPlan.proportional(DEMO_PERSONS), as_of=now)
            click.echo(f"Seeding demo data ({DEMO_PERSONS:,} persons) into {data_dir}/ ...")
            _run_seed(plan, missing, replace=False, workers=2)
        else:
            click.echo(f"Demo data already in {data_dir}/ (delete the folder to start afresh).")
        catalog, rules = _load_inputs(SHIPPED_CATALOG, None)
        written = write_policy(compile_policy(catalog, rules), data_dir / "policy")
        key = dev_signing_key(data_dir)
    except (SourceError, PolicyError, GatewayError) as error:
        fail(str(error))
    except OSError as error:
        fail(f"cannot write into {data_dir} ({error.strerror}); pick another --data.")
    click.echo(f"Compiled {SHIPPED_CATALOG.name} -> {', '.join(str(p) for p in written)}")
    click.echo(f"\nTokens for the demo agencies (valid {DEMO_TOKEN_TTL // 3600} h; "
               f"more with `govgate token --agency CODE --data {data_dir}`):")  # fmt: skip
    for code in DEMO_AGENCIES:
        agency = catalog.agency(code)
        token = issue_token(key, agency=code, ttl_seconds=DEMO_TOKEN_TTL)
        click.echo(f"\n  {code}  {agency.name}\n  {token}")
    address = f"http://{host}:{port}/graphql"
    click.echo(f"\nGraphiQL: {address}  (paste a token above into the bar at the top)")
    click.echo(f"Audit log: {data_dir / 'audit.db'}  (`govgate audit verify --data {data_dir}`; "
               "docs/trust.md)")  # fmt: skip
    if no_serve:
        return
    _serve(Settings.demo(data_dir, host=host, port=port))


def _serve(
    settings: Settings,
    *,
    workers: int = 1,
    config: Path | None = None,
    log_format: LogFormat = "text",
    approval: str | None = None,
) -> None:
    from gateway.logs import configure_logging, log_config  # noqa: PLC0415
    from gateway.serving import serve  # noqa: PLC0415 (only serving needs uvicorn)

    configure_logging(json=log_format == "json")
    # uvicorn applies it again in each worker process, to its own loggers and to govgate's.
    logs = log_config(log_format)
    try:
        started = serve(settings, workers=workers, config=config, log_config=logs,
                        approval=approval)  # fmt: skip
    except (PolicyError, GatewayError, SourceError) as error:
        fail(str(error))
    if not started:
        sys.exit(3)  # as uvicorn.run does: it has logged why (an address in use, say)


@main.command("serve")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The deployment's TOML file (see docs/deploy-config.md).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes; they share one policy and one audit chain (docs/deploy.md).",
)
@click.option(
    "--log-format",
    type=click.Choice(["json", "text"]),
    default="json",
    show_default=True,
    help="Logs on stderr: one JSON object per line, or text for a terminal (docs/gateway.md).",
)
@click.option(
    "--approval",
    default=None,
    metavar="REF",
    help="The government's approval reference, when the catalogue or rules remove shared "
    "information relative to the published policy (Art. 9). Without it such files are not put "
    "into force: the published policy is served and the refusal logged.",
)
def serve_command(
    config_path: Path, workers: int, log_format: LogFormat, approval: str | None
) -> None:
    """Serve a deployment: sources by URL, catalogue and rules, keys and limits from --config."""
    from gateway.settings import load_settings  # noqa: PLC0415

    try:
        settings = load_settings(config_path)
        approval = None if approval is None else approval_reference(approval)
    except GatewayError as error:
        fail(str(error))
    except ValueError as error:
        fail(f"--approval: {error}")
    _serve(settings, workers=workers, config=config_path, log_format=log_format,
           approval=approval)  # fmt: skip


# -- policy -----------------------------------------------------------------------------------


@main.group("policy")
def policy_group() -> None:
    """Check, compile and explain the sharing catalogue's Casbin policies."""


_catalog_option = click.option(
    "--catalog", "catalog_path", type=click.Path(dir_okay=False, path_type=Path),
    default=SHIPPED_CATALOG, show_default="the shipped catalog/guangzhou.yaml",
    help="The sharing catalogue (YAML).",
)  # fmt: skip
_rules_option = click.option(
    "--rules", "rules_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Author rules to merge. Default: <catalogue>.rules.csv beside it, if present.",
)  # fmt: skip


def _load_inputs(
    catalog_path: Path, rules_path: Path | None
) -> tuple[Catalog, tuple[AuthorRule, ...]]:
    catalog = load_catalog(catalog_path)
    if rules_path is None:
        candidate = default_rules_path(catalog_path)
        rules_path = candidate if candidate.exists() else None
    rules = load_rules(rules_path, catalog) if rules_path else ()
    return catalog, rules


_date_option = click.option(
    "--date", "day", type=click.DateTime(["%Y-%m-%d"]), default=None,
    help="Decide as of this day (temporary rules end). Default: today.",
)  # fmt: skip


@policy_group.command("check")
@_catalog_option
@_rules_option
@_date_option
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
        _, rules = _load_inputs(catalog_path, rules_path)
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
@_catalog_option
@_rules_option
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
        catalog, rules = _load_inputs(catalog_path, rules_path)
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
    catalog, rules = _load_inputs(catalog_path, rules_path)
    if policy_dir is not None:
        return Policy.load(catalog, read_compiled(policy_dir), day=day, precompute=False)
    return Policy.load(catalog, compile_policy(catalog, rules), day=day, precompute=False)


_policy_option = click.option(
    "--policy", "policy_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Use the compiled files in this folder instead of compiling the catalogue now.",
)  # fmt: skip
_duty_option = click.option(
    "--duty", default=None, metavar="DUTY",
    help="Decide for a request naming this duty (Govgate-Duty, Art. 18, 21): only what it "
    "grants the agency.",
)  # fmt: skip


@policy_group.command("explain")
@click.option("--agency", required=True, help="Agency code, e.g. TH-CA.")
@click.option("--field", "ref", required=True, help="Type.field, e.g. Person.maritalStatus.")
@click.option(
    "--method", type=click.Choice(["query", "verify"]), default="query", show_default=True
)
@_catalog_option
@_rules_option
@_policy_option
@_date_option
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
@_duty_option
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
@_catalog_option
@_rules_option
@_policy_option
@_date_option
@click.option("--json", "as_json", is_flag=True, help="Print the grants as JSON.")
@_duty_option
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

    from gateway.keys import dev_signing_key, issue_token  # noqa: PLC0415

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
