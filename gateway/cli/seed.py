"""`govgate seed`: generate the four base databases with synthetic, consistent data."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click
from sqlalchemy.engine import make_url

from gateway.cli._options import data_option, fail
from sources.engines import default_urls, parse_source_urls, sqlite_path
from sources.errors import SourceError
from sources.inventory import SOURCES
from sources.synthetic.seed import DEFAULT_AS_OF, SeedPlan, seed

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["run_seed", "seed_command"]


@click.command("seed")
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
        run_seed(plan, urls, replace=replace, workers=workers)
    except SourceError as error:
        fail(str(error))


def run_seed(plan: SeedPlan, urls: dict[str, str], *, replace: bool, workers: int) -> None:
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
