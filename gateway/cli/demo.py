"""`govgate demo`: seed demo data if missing, compile the catalogue, print tokens, serve."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from gateway.cli._options import data_option, fail, load_inputs
from gateway.cli.seed import run_seed
from gateway.cli.serve import serve_settings
from gateway.errors import GatewayError
from policies.catalog import SHIPPED_CATALOG
from policies.compiler import compile_policy, write_policy
from policies.errors import PolicyError
from sources.engines import default_urls, sqlite_path
from sources.errors import SourceError
from sources.synthetic.seed import SeedPlan

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["demo_command"]

DEMO_PERSONS = 20_000

#: Agencies whose tokens `govgate demo` prints: the catalogue's acceptance cases.
DEMO_AGENCIES = ("GZ-PSB", "GZ-AMR", "GZ-PNR", "TH-CA", "PY-TAX", "GZ-WATER", "GZ-DATA")
DEMO_TOKEN_TTL = 12 * 3600


@click.command("demo")
@data_option("Folder for the demo databases, policy and development key.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--no-serve", is_flag=True, help="Prepare the data and policy, print tokens, exit.")
def demo_command(data_dir: Path, host: str, port: int, no_serve: bool) -> None:
    """Seed demo data if missing, compile the catalogue, print tokens, serve GraphiQL."""
    from gateway.identity.dev_keys import dev_signing_key, issue_token  # noqa: PLC0415
    from gateway.settings import Settings  # noqa: PLC0415

    urls = default_urls(data_dir)
    missing = {s: u for s, u in urls.items() if not (p := sqlite_path(u)) or not p.exists()}
    try:
        if missing:
            # As of this hour, so the demo's datasets start fresh (Art. 17, `freshness`).
            now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
            plan = dataclasses.replace(SeedPlan.proportional(DEMO_PERSONS), as_of=now)
            click.echo(f"Seeding demo data ({DEMO_PERSONS:,} persons) into {data_dir}/ ...")
            run_seed(plan, missing, replace=False, workers=2)
        else:
            click.echo(f"Demo data already in {data_dir}/ (delete the folder to start afresh).")
        catalog, rules = load_inputs(SHIPPED_CATALOG, None)
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
    serve_settings(Settings.demo(data_dir, host=host, port=port))
