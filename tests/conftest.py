"""Shared fixtures: the shipped catalogue and policy, seeded SQLite data, a real PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import uuid
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import pytest

from policies.catalog import SHIPPED_CATALOG, load_catalog
from policies.grants import Policy
from policies.rules import default_rules_path, load_rules
from sources.engines import default_urls
from sources.synthetic.seed import SeedPlan, seed

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from policies.catalog import Catalog
    from policies.rules import AuthorRule

#: The day tests decide on: the shipped temporary author rule (until 2026-12-31) is in force.
DAY = date(2026, 11, 26)
#: The gateway's pinned clock in tests: 08:00 UTC on DAY.
NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
#: Synthetic data as of midnight on DAY, so every dataset is fresh at NOW (Art. 17).
SMALL = dataclasses.replace(
    SeedPlan.proportional(2_000, seed=11), as_of=datetime(2026, 11, 26, tzinfo=UTC)
)


def under_ci() -> bool:
    """CI sets CI=true: a missing service is then a failure, not a skip."""
    return os.environ.get("CI", "").lower() == "true"


def skip_or_fail(reason: str) -> None:
    """Skip on a developer machine without the service; fail under CI."""
    if under_ci():
        pytest.fail(f"{reason} (CI=true: services must be running)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(SHIPPED_CATALOG)


@pytest.fixture(scope="session")
def rules(catalog: Catalog) -> tuple[AuthorRule, ...]:
    return load_rules(default_rules_path(SHIPPED_CATALOG), catalog)


@pytest.fixture(scope="session")
def policy(catalog: Catalog, rules: tuple[AuthorRule, ...]) -> Policy:
    return Policy.build(catalog, rules, day=DAY)


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the four SQLite databases seeded from SMALL."""
    folder = tmp_path_factory.mktemp("seeded")
    seed(SMALL, default_urls(folder), workers=1)
    return folder


async def _admin(sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(_server_dsn(), timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def _server_dsn() -> str:
    return os.environ.get("GOVGATE_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"govgate_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, TimeoutError) as error:
        skip_or_fail(f"PostgreSQL is not reachable at {_server_dsn()} ({error})")
    base = _server_dsn().rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _mariadb_dsn() -> str:
    return os.environ.get("GOVGATE_TEST_MARIADB_DSN", "mysql://root@127.0.0.1:3306/test")


async def _mariadb_admin(sql: str) -> None:
    import asyncmy
    from sqlalchemy.engine import make_url

    server = make_url(_mariadb_dsn())
    connection = await asyncmy.connect(
        host=server.host or "127.0.0.1",
        port=server.port or 3306,
        user=server.username or "root",
        password=server.password or "",
        connect_timeout=5,
        read_timeout=30,
    )
    try:
        async with connection.cursor() as cursor:
            await cursor.execute(sql)
    finally:
        connection.close()


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """A fresh, empty MariaDB database for one test, dropped afterwards.

    The URL names no charset: `make_engine` must choose utf8mb4 itself.
    """
    from asyncmy.errors import OperationalError
    from sqlalchemy.engine import make_url

    name = f"govgate_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_mariadb_admin(f"CREATE DATABASE `{name}`"))
    except (OSError, TimeoutError, OperationalError) as error:
        skip_or_fail(f"MariaDB is not reachable at {_mariadb_dsn()} ({error})")
    url = make_url(_mariadb_dsn()).set(drivername="mysql+asyncmy", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        asyncio.run(_mariadb_admin(f"DROP DATABASE IF EXISTS `{name}`"))
