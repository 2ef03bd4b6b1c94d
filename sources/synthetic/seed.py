"""Fill the four base databases with consistent synthetic data.

Each source is written by its own process (the machine's cores work in parallel), in batches,
from record factories that recompute cross-references instead of holding records in memory.
The same plan (seed, counts, as-of time) gives the same rows in the same order; on SQLite, the
same bytes.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, inspect, select, text
from sqlalchemy.schema import CreateIndex, CreateTable

from sources.engines import SourceOptions, make_engine, sqlite_path
from sources.errors import SeedError
from sources.inventory import SOURCES
from sources.issuers import ISSUERS
from sources.licenses import issuer_keys
from sources.seal import ALGORITHM
from sources.synthetic.licensing import LicenseFactory
from sources.synthetic.organisations import EntityFactory
from sources.synthetic.parcels import ParcelFactory
from sources.synthetic.people import PersonFactory

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from multiprocessing.queues import Queue

    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["DEFAULT_AS_OF", "SeedPlan", "SeedResult", "seed"]

#: The default "now" of synthetic data, so that a seed alone fixes every byte.
DEFAULT_AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
_BATCH = 5_000
#: The seeder writes through one connection, and its index builds over millions of rows may take
#: longer than any agency's query should: no statement timeout while seeding.
_LOAD = SourceOptions(pool_size=1, max_overflow=0, statement_timeout_ms=0)


@dataclass(frozen=True, kw_only=True, slots=True)
class SeedPlan:
    """How much data to make, from which seed, as of when."""

    persons: int
    entities: int
    parcels: int
    licenses: int
    seed: int = 1
    as_of: datetime = DEFAULT_AS_OF

    def __post_init__(self) -> None:
        for name in ("persons", "entities", "parcels", "licenses"):
            if getattr(self, name) < 0:
                raise SeedError(f"--{name} must be zero or more, not {getattr(self, name)}.")
        if self.persons == 0 and (self.entities or self.parcels or self.licenses):
            raise SeedError(
                "Entities, parcels and licences refer to persons: ask for at least one person."
            )
        if self.as_of.tzinfo is None:
            raise SeedError("The as-of time must carry a time zone (UTC).")

    @classmethod
    def proportional(cls, persons: int, *, seed: int = 1) -> SeedPlan:
        """A plan with the other sources sized in proportion to the persons.

        One entity per five residents, one parcel per four, one licence per two.
        """
        return cls(
            persons=persons,
            entities=persons // 5,
            parcels=persons // 4,
            licenses=persons // 2,
            seed=seed,
        )

    def count(self, source: str) -> int:
        """How many records `source` gets."""
        return {
            "persons": self.persons,
            "entities": self.entities,
            "land": self.parcels,
            "licenses": self.licenses,
        }[source]


@dataclass(frozen=True, slots=True)
class SeedResult:
    """What one source got and how long it took."""

    source: str
    records: int
    seconds: float
    #: peak resident memory of the process that wrote this source, in MiB.
    peak_mib: float


def _factories(plan: SeedPlan) -> tuple[PersonFactory, EntityFactory]:
    as_of = plan.as_of.replace(tzinfo=None)  # stored as naive UTC
    persons = PersonFactory(seed=plan.seed, count=plan.persons, as_of=as_of)
    entities = EntityFactory(seed=plan.seed, count=plan.entities, persons=persons, as_of=as_of)
    return persons, entities


def _record_maker(source: str, plan: SeedPlan) -> Callable[[int], dict[str, object]]:
    persons, entities = _factories(plan)
    as_of = persons.as_of
    if source == "persons":
        return persons.record
    if source == "entities":
        return entities.record
    if source == "land":
        factory = ParcelFactory(
            seed=plan.seed, count=plan.parcels, persons=persons, entities=entities, as_of=as_of
        )
        return factory.record
    licensing = LicenseFactory(
        seed=plan.seed, count=plan.licenses, persons=persons, entities=entities, as_of=as_of
    )
    return licensing.record


async def _records_in(url: str, source: str) -> int | None:
    """How many records `source` already holds at `url`; None when it has no table yet."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return None
    engine = make_engine(url, options=_LOAD)
    try:
        async with engine.connect() as connection:
            existing = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
            table = SOURCES[source].table
            if table.name not in existing:
                return None
            return int(
                (await connection.execute(select(func.count()).select_from(table))).scalar_one()
            )
    finally:
        await engine.dispose()


async def _occupied(urls: Mapping[str, str]) -> dict[str, int]:
    counts = {source: await _records_in(url, source) for source, url in urls.items()}
    return {source: n for source, n in counts.items() if n is not None}


async def _prepare(connection: AsyncConnection, source: str) -> None:
    metadata = SOURCES[source].table.metadata
    existing = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    if existing & set(metadata.tables):
        await connection.run_sync(metadata.drop_all)
    # Tables first, indexes after the load: building an index once is faster than keeping it
    # up to date through a million inserts.
    for table in metadata.sorted_tables:
        await connection.execute(CreateTable(table))


async def _index(connection: AsyncConnection, source: str) -> None:
    for table in SOURCES[source].table.metadata.sorted_tables:
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            await connection.execute(CreateIndex(index))
    # Statistics for the query planner: without them SQLite picks the division index over the
    # holder index for a district agency's link look-ups (measured in bench/gateway.sh).
    if connection.dialect.name in {"mysql", "mariadb"}:
        # MariaDB analyses the tables it is told to, and answers with a status row per table.
        names = ", ".join(t.name for t in SOURCES[source].table.metadata.sorted_tables)
        (await connection.execute(text(f"ANALYZE TABLE {names}"))).all()
    else:
        await connection.execute(text("ANALYZE"))


async def _seed_source(
    source: str,
    url: str,
    plan: SeedPlan,
    *,
    replace: bool,
    report: Callable[[int], None],
) -> int:
    path = sqlite_path(url)
    if path is not None:
        if path.exists() and replace:
            path.unlink()  # a new file, not a reused one, keeps seeding byte-for-byte repeatable
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url, options=_LOAD, bulk_load=path is not None)
    table = SOURCES[source].table
    make = _record_maker(source, plan)
    total = plan.count(source)
    try:
        async with engine.begin() as connection:
            await _prepare(connection, source)
            if source == "licenses":
                await connection.execute(issuer_keys.insert(), _issuer_key_rows(plan))
        for start in range(0, total, _BATCH):
            rows = [make(i) for i in range(start, min(start + _BATCH, total))]
            async with engine.begin() as connection:
                await connection.execute(table.insert(), rows)
            report(len(rows))
        async with engine.begin() as connection:
            await _index(connection, source)
    finally:
        await engine.dispose()
    return total


def _issuer_key_rows(plan: SeedPlan) -> list[dict[str, str]]:
    from sources.seal import issuer_key  # noqa: PLC0415 (keeps the import local to its one use)

    rows = []
    for code in sorted(ISSUERS):
        key = issuer_key(code, seed=plan.seed)
        rows.append(
            {
                "key_id": key.key_id,
                "issuer_code": code,
                "algorithm": ALGORITHM,
                "public_key": key.public_key_b64,
            }
        )
    return rows


def _worker(
    source: str,
    url: str,
    plan: SeedPlan,
    *,
    replace: bool,
    queue: Queue[tuple[str, int]] | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> SeedResult:
    started = time.perf_counter()

    def report(n: int) -> None:
        if queue is not None:
            queue.put((source, n))
        elif progress is not None:
            progress(source, n)

    records = asyncio.run(_seed_source(source, url, plan, replace=replace, report=report))
    return SeedResult(source, records, time.perf_counter() - started, _peak_mib())


def seed(
    plan: SeedPlan,
    urls: Mapping[str, str],
    *,
    replace: bool = False,
    workers: int = 2,
    progress: Callable[[str, int], None] | None = None,
) -> list[SeedResult]:
    """Seed every source in `urls`; `progress(source, n)` hears of each batch written.

    Sources are written by up to `workers` processes at once (the heaviest first).
    """
    unknown = sorted(set(urls) - set(SOURCES))
    if unknown:
        raise SeedError(f"Unknown sources {', '.join(unknown)}; known: {', '.join(SOURCES)}.")
    if not replace:
        occupied = asyncio.run(_occupied(urls))
        if occupied:
            held = ", ".join(f"{source} {n} records" for source, n in occupied.items())
            raise SeedError(
                f"The target already holds data ({held}); pass --replace to overwrite it, "
                "or seed into another --data folder."
            )
    order = sorted(urls, key=lambda s: -_cost(s, plan))
    if workers <= 1:
        return [_worker(s, urls[s], plan, replace=replace, progress=progress) for s in order]
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        queue: Queue[tuple[str, int]] = manager.Queue()  # type: ignore[assignment]
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [
                pool.submit(_worker, source, urls[source], plan, replace=replace, queue=queue)
                for source in order
            ]
            while not all(f.done() for f in futures):
                _drain(queue, progress, timeout=0.2)
            _drain(queue, progress, timeout=0)
            return [f.result() for f in futures]


def _drain(
    queue: Queue[tuple[str, int]], progress: Callable[[str, int], None] | None, timeout: float
) -> None:
    import queue as queue_module  # noqa: PLC0415 (only for its Empty exception)

    try:
        while True:
            source, n = queue.get(timeout=timeout) if timeout else queue.get_nowait()
            if progress is not None:
                progress(source, n)
            timeout = 0
    except queue_module.Empty:
        return


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _cost(source: str, plan: SeedPlan) -> float:
    # Relative microseconds per record, measured: licences sign and look up their holders.
    per_record = {"persons": 1.0, "entities": 1.5, "land": 1.5, "licenses": 3.0}[source]
    return per_record * plan.count(source)
