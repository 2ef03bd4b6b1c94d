"""On PostgreSQL the gateway's role may append and read its log and nothing else; a witness
database takes its signed heads through an insert-only role (issue 9, item 6)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.cli import main
from gateway.http.app import create_app
from gateway.provision.roles import GATEWAY_GRANTS, create_gateway_tables
from gateway.settings import Settings, Witnessing
from gateway.trust.audit import AuditStore
from sources.engines import default_urls
from tests.conftest import NOW, _admin
from tests.gateway.conftest import LiveServer
from tests.gateway.forgery import named_by_witness, rewrite_with_own_key
from tests.gateway.trust.test_audit_chain import entry

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

pytestmark = pytest.mark.postgres

#: What the writer must never do to its own log, each refused for lack of privilege.
ATTACKS = (
    "DROP TRIGGER audit_log_append_only ON audit_log",
    "ALTER TABLE audit_log DISABLE TRIGGER USER",
    "DELETE FROM audit_log WHERE seq = 2",
    "UPDATE audit_log SET agency = 'TH-CA' WHERE seq = 2",
    "TRUNCATE audit_log",
    "ALTER TABLE audit_log ADD COLUMN note text",
    "DROP TABLE audit_log",
    "DROP SCHEMA public CASCADE",
    "CREATE TABLE scratch (x int)",
    "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql "
    "AS $$ BEGIN RETURN OLD; END $$",
    "DELETE FROM audit_head",
    "UPDATE audit_head SET id = 2",
    "UPDATE vouchers SET agency = 'TH-CA'",
    "DELETE FROM signing_keys",
    "UPDATE policy_versions SET version = 'x'",
)


@pytest.fixture
def new_role() -> Iterator[Callable[[str], str]]:
    """Makes unique role names; drops the roles after the test's databases are gone."""
    made: list[str] = []

    def name(prefix: str) -> str:
        made.append(f"{prefix}_{uuid.uuid4().hex[:8]}")
        return made[-1]

    yield name
    for role in made:
        asyncio.run(_admin(f'DROP ROLE IF EXISTS "{role}"'))


@pytest.fixture
def witness_url(new_role: Callable[[str], str], postgres_url: str) -> Iterator[str]:
    """A second fresh database on the same server, for a witness."""
    name = f"govgate_test_w_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def as_role(url: str, role: str) -> str:
    return make_url(url).set(username=role).render_as_string(hide_password=False)


def run(url: str, *statements: str) -> list[str]:
    """Run each statement in its own transaction at `url`; the refusals' first lines."""

    async def go() -> list[str]:
        engine = create_async_engine(url)
        refusals = []
        try:
            for statement in statements:
                try:
                    async with engine.begin() as connection:
                        await connection.execute(text(statement))
                    refusals.append("")
                except DBAPIError as error:
                    refusals.append(str(error.orig).splitlines()[0])
        finally:
            await engine.dispose()
        return refusals

    return asyncio.run(go())


def scalar(url: str, query: str) -> object:
    async def go() -> object:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.scalar(text(query))
        finally:
            await engine.dispose()

    return asyncio.run(go())


def init(command: str, admin_url: str, role: str) -> str:
    result = CliRunner().invoke(main, ["audit", command, "--admin-url", admin_url, "--role", role])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_gateways_role_may_append_and_read_but_never_rewrite_the_log(
    new_role: Callable[[str], str], postgres_url: str
) -> None:
    role = new_role("gw")
    gateway_url = as_role(postgres_url, role)
    database = make_url(postgres_url).database
    # Before: the gateway's role owns the database and made its own tables (docs/deploy.md
    # used to say `createdb -O govgate`), so it could drop the triggers and rewrite the log.
    asyncio.run(_admin(f'CREATE ROLE "{role}" LOGIN'))
    asyncio.run(_admin(f'ALTER DATABASE "{database}" OWNER TO "{role}"'))
    asyncio.run(create_gateway_tables(gateway_url))
    assert run(gateway_url, "DROP TRIGGER audit_log_append_only ON audit_log") == [""]

    said = init("init-roles", postgres_url, role)
    assert f"database {database} now belongs to postgres (was {role})" in said
    assert "audit_log now belongs to postgres" in said
    assert f"audit_log: {role} may SELECT, INSERT (was: " in said
    assert f"audit_head: {role} may SELECT, INSERT, UPDATE (seq, hash, key_id, signature)" in said
    assert scalar(postgres_url, "SELECT count(*) FROM pg_trigger WHERE tgname = "
                                "'audit_log_append_only'") == 1  # put back  # fmt: skip

    async def append_and_read() -> int:
        store = AuditStore(gateway_url)
        try:
            await store.create()  # the tables exist: no DDL, which the role may not run
            await store.append([entry(n) for n in range(1, 5)])
            return len([record async for record in store.records()])
        finally:
            await store.close()

    assert asyncio.run(append_and_read()) == 4
    refusals = run(gateway_url, *ATTACKS)
    for statement, refusal in zip(ATTACKS, refusals, strict=True):
        assert "permission denied" in refusal or "must be owner" in refusal, (statement, refusal)
    assert scalar(postgres_url, "SELECT count(*) FROM audit_log") == 4

    again = init("init-roles", postgres_url, role)  # idempotent: nothing left to change
    assert again.count("(unchanged)") == len(GATEWAY_GRANTS)
    assert "now belongs to" not in again


def test_a_gateway_role_starts_even_when_a_trigger_is_missing_and_says_so(
    new_role: Callable[[str], str], postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    role = new_role("gw")
    init("init-roles", postgres_url, role)
    assert run(postgres_url, "DROP TRIGGER audit_log_no_truncate ON audit_log") == [""]

    async def start() -> None:
        store = AuditStore(as_role(postgres_url, role))
        try:
            await store.create()  # may not create the trigger: warns, and the store works
            await store.append([entry(1)])
        finally:
            await store.close()

    asyncio.run(start())
    assert "the append-only triggers on audit_log are missing" in caplog.text
    assert "govgate audit init-roles" in caplog.text
    assert scalar(postgres_url, "SELECT count(*) FROM audit_log") == 1


def test_init_roles_refuses_a_superuser_and_says_what_to_do(
    new_role: Callable[[str], str], postgres_url: str
) -> None:
    role = new_role("su")
    asyncio.run(_admin(f'CREATE ROLE "{role}" LOGIN SUPERUSER'))
    result = CliRunner().invoke(
        main, ["audit", "init-roles", "--admin-url", postgres_url, "--role", role]
    )
    assert result.exit_code == 2
    assert f"role {role} is a superuser, which no privilege binds" in result.output


def deployment(folder: Path, seeded: Path, audit_url: str) -> Path:
    """A deployment file over the seeded sources with its audit store at `audit_url`."""
    sources = "\n".join(f'{name} = "{url}"' for name, url in default_urls(seeded).items())
    path = folder / "govgate.toml"
    path.write_text(f'[sources]\n{sources}\n[audit]\nurl = "{audit_url}"\n'
                    f'[signing]\nkeys = "{folder / "keys" / "gateway"}"\n', "utf-8")  # fmt: skip
    return path


def test_a_gateway_serves_with_the_append_only_role_and_a_rewrite_is_caught_by_its_witness(
    new_role: Callable[[str], str],
    postgres_url: str,
    witness_url: str,
    seeded: Path,
    tmp_path: Path,
    token_for: Callable[[str], str],
) -> None:
    role, witness_role = new_role("gw"), new_role("wit")
    init("init-roles", postgres_url, role)
    said = init("init-witness", witness_url, witness_role)
    assert f"audit_witness: {witness_role} may INSERT (was: " in said
    publisher = as_role(witness_url, witness_role)
    settings = dataclasses.replace(
        Settings.demo(seeded),
        audit_url=as_role(postgres_url, role),
        signing_keys=tmp_path / "keys" / "gateway",
        witnessing=Witnessing(witnesses=(publisher,), witness_every=4, witness_interval_s=60),
    )
    asks = [("GZ-PSB", "{ persons(first: 2) { edges { node { name } } } }"),
            ("GZ-AMR", "{ licenses(first: 2) { edges { node { licenseNumber } } } }"),
            (None, "{ me { agency { code } } }")] * 8  # fmt: skip
    with LiveServer(create_app(settings, clock=lambda: NOW)) as server:
        for agency, query in asks:
            headers = {"Authorization": f"Bearer {token_for(agency)}"} if agency else {}
            answer = server.client.post("/graphql", json={"query": query}, headers=headers)
            assert answer.status_code == (200 if agency else 401), answer.text
        ready = server.client.get("/readyz").json()
    assert ready["witnesses"][make_url(publisher).render_as_string()]["error"] is None
    assert scalar(postgres_url, "SELECT count(*) FROM audit_log") == 24
    assert scalar(postgres_url, "SELECT count(*) FROM vouchers") == 8  # one per licence page
    assert scalar(postgres_url, "SELECT count(*) FROM policy_versions") == 1  # published at start
    assert scalar(witness_url, "SELECT max(seq) FROM audit_witness") == 24  # and at shutdown
    for refusal in run(publisher, "SELECT * FROM audit_witness", "DELETE FROM audit_witness",
                       "UPDATE audit_witness SET seq = 1", "TRUNCATE audit_witness",
                       "DROP TABLE audit_witness"):  # fmt: skip
        assert "permission denied" in refusal or "must be owner" in refusal, refusal

    # The insider's attack, done with the database administrator's rights and the gateway's key.
    config = deployment(tmp_path, seeded, postgres_url)
    left = rewrite_with_own_key(postgres_url, tmp_path / "keys" / "gateway", first=7, count=5)
    assert left == 19
    plain = CliRunner().invoke(main, ["audit", "verify", "--config", str(config)])
    assert plain.exit_code == 0, plain.output  # on its own the rewritten log holds together
    checked = CliRunner().invoke(
        main, ["audit", "verify", "--config", str(config), "--witness", witness_url]
    )
    assert checked.exit_code == 1, checked.output
    seqs = [int(s) for s in str(scalar(witness_url, "SELECT string_agg(DISTINCT seq::text, ',') "
                                       "FROM audit_witness")).split(",")]  # fmt: skip
    assert named_by_witness(seqs, 7, left) in checked.output
