"""`govgate backup` / `govgate restore` (Art. 20, 27): real databases copied, restored, compared.

Every test backs up a real deployment (seeded SQLite files, an audit store with a signed chain
and a voucher, the shipped policy and the gateway's keys; PostgreSQL and MariaDB where marked),
restores it elsewhere and compares every row; none mocks a database or a program.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import socket
import sqlite3
import stat
import threading
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import MetaData, select
from sqlalchemy.engine import make_url

from gateway.backup import servers, sqlite
from gateway.cli import main
from gateway.cli.backup import backup_command, restore_command
from gateway.trust.audit import AuditEntry, AuditStore, Operation
from gateway.trust.vouchers import Keyring, VoucherStore, issue
from policies.catalog import SHIPPED_CATALOG
from policies.rules import default_rules_path
from sources.engines import default_urls, make_engine
from sources.synthetic.seed import SeedPlan, seed
from tests.conftest import NOW

if TYPE_CHECKING:
    from collections.abc import Iterator

    import click
    from sqlalchemy.engine import Connection

PLAN = SeedPlan.proportional(500, seed=3)
DATABASES = ("persons.db", "entities.db", "land.db", "licenses.db", "audit.db")
RECORDS = 12
#: Text that a naive dump reader or rewriter would trip on: quotes, brackets, a backslash, a
#: backtick, a line break, Chinese, and something that looks like a DEFINER clause.
AWKWARD = "it's (one),(two) \\ `tick` 行\n DEFINER=`root`@`localhost`*/"


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def entry(number: int) -> AuditEntry:
    return AuditEntry(
        at=f"2026-11-{1 + number % 28:02d}T08:00:00.{number:06d}Z",
        request_id=f"req-{number}",
        endpoint="/graphql",
        decision="allowed" if number % 3 else "refused",
        agency="GZ-PSB",
        reason=AWKWARD if number % 3 == 0 else None,
        operations=(Operation("Lookup", "ab" * 32),),
        fields=("Person.name",),
        records=(f"Person:{number:018d}",),
        policy_version="v1",
        latency_us=1000 + number,
    )


def fill_audit(url: str, keys: Path, records: int = RECORDS, batch: int = 4) -> None:
    """An audit store with `records` records, its head signed with the keys in `keys`, and
    one voucher (so the voucher and public-key tables hold rows too)."""
    keyring = Keyring.open(keys)

    async def go() -> None:
        store, vouchers = AuditStore(url, signer=keyring.sign), VoucherStore(url)
        try:
            await store.create()
            for start in range(0, records, batch):  # several batches, as the writer makes them
                await store.append([entry(n) for n in range(start, min(start + batch, records))])
            await vouchers.create()
            voucher = issue(keyring, agency="GZ-PSB", request_id="req-0", datasets=["person-basic"],
                            data={"person": {"name": "张三"}}, issued_at=NOW)  # fmt: skip
            await vouchers.save(voucher, keyring.current.public_key_b64)
        finally:
            await store.close()
            await vouchers.close()

    asyncio.run(go())


def contents(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the database at `url`, table by table, in a stable order."""

    def read(connection: Connection) -> dict[str, list[tuple[Any, ...]]]:
        metadata = MetaData()
        metadata.reflect(connection)
        return {name: sorted((tuple(row) for row in connection.execute(select(table))), key=repr)
                for name, table in sorted(metadata.tables.items())}  # fmt: skip

    async def go() -> dict[str, list[tuple[Any, ...]]]:
        engine = make_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(read)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def schema(path: Path) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as db:
        query = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"
        return db.execute(query).fetchall()


def run(command: click.Command, *args: object) -> Result:
    return CliRunner().invoke(command, [str(arg) for arg in args])


def verify_audit(*args: object) -> Result:
    return CliRunner().invoke(main, ["audit", "verify", *map(str, args)])


def manifest_of(folder: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((folder / "manifest.json").read_text("utf-8"))
    return document


def part(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in manifest["parts"] if p["name"] == name)
    return found


def write_config(path: Path, folder: Path, **urls: str) -> Path:
    """A `govgate serve` file: SQLite in `folder` except the sources (and `audit`) given."""
    sources = default_urls(folder) | {k: v for k, v in urls.items() if k != "audit"}
    rules = default_rules_path(SHIPPED_CATALOG)
    lines = ["[sources]", *(f'{name} = "{url}"' for name, url in sources.items()),
             "[audit]", f'url = "{urls.get("audit", sqlite_url(folder / "audit.db"))}"',
             "[signing]", f'keys = "{folder / "keys" / "gateway"}"',
             "[policy]", f'catalog = "{SHIPPED_CATALOG}"', f'rules = "{rules}"']  # fmt: skip
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `--data` deployment: the four seeded sources, an audit store, the gateway's keys."""
    folder = tmp_path_factory.mktemp("deployment")
    seed(PLAN, default_urls(folder), workers=1)
    fill_audit(sqlite_url(folder / "audit.db"), folder / "keys" / "gateway")
    return folder


@pytest.fixture
def deployment(template: Path, tmp_path: Path) -> Path:
    """A copy of the template for one test to back up, change or restore over."""
    return Path(shutil.copytree(template, tmp_path / "deployment"))


@pytest.fixture
def fresh(tmp_path: Path) -> Path:
    """An empty `--data` folder to restore into."""
    folder = tmp_path / "fresh"
    folder.mkdir()
    return folder


@pytest.fixture
def backed_up(deployment: Path, tmp_path: Path) -> Path:
    """A backup of `deployment`, taken with the command."""
    folder = tmp_path / "backup"
    result = run(backup_command, "--to", folder, "--data", deployment)
    assert result.exit_code == 0, result.output
    return folder


def test_a_sqlite_deployment_comes_back_row_for_row_and_its_chain_verifies(
    deployment: Path, backed_up: Path, fresh: Path
) -> None:
    result = run(restore_command, "--from", backed_up, "--data", fresh)
    assert result.exit_code == 0, result.output
    assert "every table holds the rows the manifest lists" in result.output
    for name in DATABASES:
        assert schema(fresh / name) == schema(deployment / name), name
        assert contents(sqlite_url(fresh / name)) == contents(sqlite_url(deployment / name)), name
    assert len(contents(sqlite_url(fresh / "audit.db"))["vouchers"]) == 1
    for key in (deployment / "keys" / "gateway").glob("[!.]*"):
        restored = fresh / "keys" / "gateway" / key.name
        assert restored.read_bytes() == key.read_bytes()
        assert stat.S_IMODE(restored.stat().st_mode) == 0o600
    verified = verify_audit("--data", fresh)
    assert verified.exit_code == 0, verified.output
    assert f"intact: {RECORDS} records" in verified.output


def test_the_manifest_lists_every_file_with_its_sha256_and_every_table_with_its_rows(
    deployment: Path, backed_up: Path
) -> None:
    manifest = manifest_of(backed_up)
    assert manifest["format"] == "govgate-backup-v1"
    assert manifest["govgate"]
    assert manifest["created_at"].endswith("Z")
    names = [p["name"] for p in manifest["parts"]]
    assert names == ["persons", "entities", "land", "licenses", "audit", "catalog", "rules", "keys"]
    listed = set()
    for described in manifest["parts"]:
        for stored in described["files"]:
            data = (backed_up / stored["file"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == stored["sha256"], stored["file"]
            assert len(data) == stored["bytes"]
            listed.add(stored["file"])
    on_disk = {str(p.relative_to(backed_up)) for p in backed_up.rglob("*") if p.is_file()}
    assert on_disk == listed | {"manifest.json"}  # no -wal, -shm or stray files beside them
    audit = part(manifest, "audit")
    assert audit["kind"] == "sqlite"
    assert audit["url"] == sqlite_url(deployment / "audit.db")
    assert audit["serves"] == ["audit"]
    rows = {name: len(rows) for name, rows in contents(sqlite_url(deployment / "audit.db")).items()}
    assert audit["tables"] == rows
    assert rows["audit_log"] == RECORDS
    assert part(manifest, "persons")["tables"] == {"persons": PLAN.persons}
    assert part(manifest, "keys")["kind"] == "files"
    assert stat.S_IMODE((backed_up / "keys").stat().st_mode) == 0o700


def test_without_keys_the_backup_holds_no_private_key(deployment: Path, tmp_path: Path) -> None:
    folder = tmp_path / "backup"
    result = run(backup_command, "--to", folder, "--data", deployment, "--without-keys")
    assert result.exit_code == 0, result.output
    assert "keys" not in [p["name"] for p in manifest_of(folder)["parts"]]
    assert not (folder / "keys").exists()
    assert not any(b"PRIVATE KEY" in p.read_bytes() for p in folder.rglob("*") if p.is_file())


def test_a_damaged_backup_file_is_refused_with_its_name_and_nothing_is_restored(
    backed_up: Path, fresh: Path
) -> None:
    damaged = backed_up / "databases" / "land.db"
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    result = run(restore_command, "--from", backed_up, "--data", fresh)
    assert result.exit_code == 2, result.output
    assert "databases/land.db" in result.output
    assert "damaged" in result.output
    assert not any(fresh.glob("*.db"))


def test_a_folder_without_a_manifest_is_not_taken_for_a_backup(tmp_path: Path, fresh: Path) -> None:
    (tmp_path / "half").mkdir()
    result = run(restore_command, "--from", tmp_path / "half", "--data", fresh)
    assert result.exit_code == 2
    assert "holds no manifest.json" in result.output


def test_a_backup_into_a_folder_that_holds_files_is_refused_without_replace(
    deployment: Path, backed_up: Path, tmp_path: Path
) -> None:
    before = manifest_of(backed_up)
    again = run(backup_command, "--to", backed_up, "--data", deployment)
    assert again.exit_code == 2
    assert "is not empty; pass --replace" in again.output
    assert manifest_of(backed_up) == before

    replaced = run(backup_command, "--to", backed_up, "--data", deployment, "--replace")
    assert replaced.exit_code == 0, replaced.output
    assert [p["files"] for p in manifest_of(backed_up)["parts"]] == [
        p["files"] for p in before["parts"]
    ]

    other = tmp_path / "documents"
    other.mkdir()
    (other / "notes.txt").write_text("not a backup", "utf-8")
    for extra in ((), ("--replace",)):
        refused = run(backup_command, "--to", other, "--data", deployment, *extra)
        assert refused.exit_code == 2
    assert "does not write (notes.txt)" in refused.output
    assert (other / "notes.txt").read_text("utf-8") == "not a backup"


def test_restore_refuses_a_deployment_that_holds_data_unless_replace(
    deployment: Path, backed_up: Path
) -> None:
    with closing(sqlite3.connect(deployment / "persons.db")) as db, db:
        db.execute("DELETE FROM persons WHERE rowid % 2 = 0")
    refused = run(restore_command, "--from", backed_up, "--data", deployment)
    assert refused.exit_code == 2
    assert f"{deployment / 'persons.db'} (250 rows)" in refused.output
    assert "--replace" in refused.output

    restored = run(restore_command, "--from", backed_up, "--data", deployment, "--replace")
    assert restored.exit_code == 0, restored.output
    assert len(contents(sqlite_url(deployment / "persons.db"))["persons"]) == PLAN.persons


def test_restore_exits_1_when_the_rows_restored_differ_from_the_manifest(
    backed_up: Path, fresh: Path
) -> None:
    manifest = manifest_of(backed_up)
    part(manifest, "land")["tables"]["land_parcels"] += 1
    (backed_up / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    result = run(restore_command, "--from", backed_up, "--data", fresh)
    assert result.exit_code == 1
    assert f"table land_parcels should hold {PLAN.parcels + 1} rows" in result.output
    assert f"holds {PLAN.parcels}" in result.output


def test_a_backup_taken_while_the_audit_log_grows_is_one_consistent_snapshot(
    deployment: Path, fresh: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, keys = sqlite_url(deployment / "audit.db"), deployment / "keys" / "gateway"
    fill_audit(url, keys, records=4_000, batch=500)  # ~3 MB: hundreds of pages to copy
    # One page per step of the online backup, so the gateway's writes land mid-copy.
    monkeypatch.setattr(sqlite, "_PAGES_PER_STEP", 1)
    appended, writing, stop = [0], threading.Event(), threading.Event()

    def gateway() -> None:
        async def go() -> None:
            store = AuditStore(url, signer=Keyring.open(keys).sign)
            try:
                while not stop.is_set():
                    await store.append([entry(appended[0]), entry(appended[0] + 1)])
                    appended[0] += 2
                    writing.set()
            finally:
                await store.close()

        asyncio.run(go())

    writer = threading.Thread(target=gateway)
    writer.start()
    try:
        assert writing.wait(timeout=20)
        before = appended[0]
        result = run(backup_command, "--to", tmp_path / "backup", "--data", deployment)
        during = appended[0] - before
    finally:
        stop.set()
        writer.join(timeout=30)
    assert result.exit_code == 0, result.output
    assert during > 0, "the gateway wrote nothing while the backup ran"
    copied = part(manifest_of(tmp_path / "backup"), "audit")["tables"]["audit_log"]
    first = RECORDS + 4_000
    assert first + before <= copied <= first + before + during

    restored = run(restore_command, "--from", tmp_path / "backup", "--data", fresh)
    assert restored.exit_code == 0, restored.output
    verified = verify_audit("--data", fresh)
    assert verified.exit_code == 0, verified.output
    assert f"intact: {copied:,} records" in verified.output


def test_a_missing_dump_program_is_named_with_its_package(
    deployment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = "postgresql+asyncpg://govgate:secret@db.invalid/city"
    config = write_config(tmp_path / "govgate.toml", deployment, persons=server)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = run(backup_command, "--to", tmp_path / "backup", "--config", config)
    assert result.exit_code == 2
    assert "pg_dump is not installed" in result.output
    assert "postgresql-client" in result.output
    assert not (tmp_path / "backup").exists()


def test_a_database_that_cannot_be_reached_is_named_without_its_password(
    deployment: Path, tmp_path: Path
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = f"postgresql+asyncpg://govgate:secret@127.0.0.1:{port}/city"
    config = write_config(tmp_path / "govgate.toml", deployment, persons=server)
    result = run(backup_command, "--to", tmp_path / "backup", "--config", config)
    assert result.exit_code == 2
    assert f"Cannot back up persons at postgresql+asyncpg://govgate@127.0.0.1:{port}/city" in (
        result.output
    )
    assert "secret" not in result.output
    assert "run again with --replace" in result.output
    assert not (tmp_path / "backup" / "manifest.json").exists()


def test_rows_are_counted_in_either_layout_of_a_mariadb_or_mysql_dump(tmp_path: Path) -> None:
    # mariadb-dump 10.11 puts each row on its own line; MySQL's mysqldump all on one.
    awkward = AWKWARD.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    dump = tmp_path / "dump.sql"
    dump.write_text(
        "CREATE TABLE `audit_log` (\n  `seq` int\n);\n"
        "CREATE TABLE `empty` (\n  `n` int\n);\n"
        f"INSERT INTO `audit_log` VALUES\n(1,'{awkward}',0x28),\n(2,NULL,'),('),\n(3,'x',1);\n"
        f"INSERT INTO `audit_log` VALUES (4,'{awkward}'),(5,'(');\n"
        "CREATE TABLE `odd``name` (\n  `n` int\n);\n"
        "INSERT INTO `odd``name` VALUES (1),(2);\n",
        "utf-8",
    )
    assert servers._dumped_rows(dump) == {"audit_log": 5, "empty": 0, "odd`name": 2}


# -- servers ----------------------------------------------------------------------------------


async def _postgres(url: str, sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture
def other_postgres_url(postgres_url: str) -> Iterator[str]:
    """A second empty database on the same server, to restore into."""
    name = f"{make_url(postgres_url).database}_restored"
    asyncio.run(_postgres(postgres_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_postgres(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _mariadb(url: str, sql: str) -> None:
    import asyncmy

    server = make_url(url)
    connection = await asyncmy.connect(host=server.host or "127.0.0.1", port=server.port or 3306,
                                       user=server.username or "root",
                                       password=server.password or "")  # fmt: skip
    try:
        async with connection.cursor() as cursor:
            await cursor.execute(sql)
    finally:
        connection.close()


@pytest.fixture
def other_mariadb_url(mariadb_url: str) -> Iterator[str]:
    """A second empty MariaDB database on the same server, to restore into."""
    name = f"{make_url(mariadb_url).database}_restored"
    asyncio.run(_mariadb(mariadb_url, f"CREATE DATABASE `{name}`"))
    try:
        yield make_url(mariadb_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_mariadb(mariadb_url, f"DROP DATABASE IF EXISTS `{name}`"))


def round_trip_on_a_server(
    source: str, server: str, restore_into: str, template: Path, tmp_path: Path
) -> dict[str, Any]:
    """Put `source` and the audit store on `server`, back up, restore into `restore_into` and
    SQLite files in a fresh folder, compare every row; the manifest."""
    first = Path(shutil.copytree(template, tmp_path / "first"))
    for name in (f"{source}.db", "audit.db"):
        (first / name).unlink()
    seed(PLAN, {source: server}, workers=1)
    fill_audit(server, first / "keys" / "gateway")
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    configs = [write_config(tmp_path / f"{folder.name}.toml", folder, audit=url, **{source: url})
               for folder, url in ((first, server), (fresh, restore_into))]  # fmt: skip

    backed = run(backup_command, "--to", tmp_path / "backup", "--config", configs[0])
    assert backed.exit_code == 0, backed.output
    restored = run(restore_command, "--from", tmp_path / "backup", "--config", configs[1])
    assert restored.exit_code == 0, restored.output

    assert contents(restore_into) == contents(server)
    for name in DATABASES:
        if name not in (f"{source}.db", "audit.db"):
            assert contents(sqlite_url(fresh / name)) == contents(sqlite_url(first / name))
    verified = verify_audit("--config", configs[1])
    assert verified.exit_code == 0, verified.output
    assert f"intact: {RECORDS} records" in verified.output
    again = run(restore_command, "--from", tmp_path / "backup", "--config", configs[1])
    assert again.exit_code == 2
    assert "already holds data" in again.output
    return manifest_of(tmp_path / "backup")


@pytest.mark.postgres
def test_persons_and_the_audit_store_on_postgresql_come_back_row_for_row(
    template: Path, tmp_path: Path, postgres_url: str, other_postgres_url: str
) -> None:
    manifest = round_trip_on_a_server(
        "persons", postgres_url, other_postgres_url, template, tmp_path
    )
    shared = part(manifest, "persons+audit")  # one database, one dump
    assert shared["kind"] == "postgresql"
    assert shared["files"][0]["file"] == "databases/persons+audit.pgdump"
    assert shared["url"] == postgres_url
    assert shared["tables"]["persons"] == PLAN.persons
    assert shared["tables"]["audit_log"] == RECORDS


@pytest.mark.mariadb
def test_entities_and_the_audit_store_on_mariadb_come_back_row_for_row(
    template: Path, tmp_path: Path, mariadb_url: str, other_mariadb_url: str
) -> None:
    manifest = round_trip_on_a_server(
        "entities", mariadb_url, other_mariadb_url, template, tmp_path
    )
    shared = part(manifest, "entities+audit")
    assert shared["kind"] == "mysql"
    assert shared["files"][0]["file"] == "databases/entities+audit.sql"
    # Rows counted in the dump itself, awkward text and all.
    assert shared["tables"]["legal_entities"] == PLAN.entities
    assert shared["tables"]["audit_log"] == RECORDS
