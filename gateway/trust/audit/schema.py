"""The gateway's own tables: created when missing, left alone when an administrator made them.

Under the append-only role that `govgate audit init-roles` sets up, the gateway may not run DDL
at all (Art. 28: the writer must not be able to rewrite its own log). So `ensure_tables` sends
DDL only for what is missing: on a store the administrator prepared it only reads the catalogue
and changes nothing. When a trigger is missing and the role may not create it, the gateway
warns and goes on (the role's privileges are the defence; the trigger is a second one).

Triggers refuse UPDATE and DELETE (and, on PostgreSQL, TRUNCATE) on the append-only tables.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy import MetaData
    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["append_only", "append_only_triggers", "ensure_tables", "is_privilege_error"]

log = logging.getLogger("govgate.audit")

#: SQLSTATE of "permission denied" and "must be owner" (PostgreSQL), "denied" (MariaDB: 1142).
_PRIVILEGE_SQLSTATES = {"42501"}
_PRIVILEGE_ERRNOS = {1142, 1143, 1227}


def append_only(dialect: str, table: str) -> list[str]:
    """DDL making `table` refuse UPDATE and DELETE (Art. 28); none for other dialects."""
    message = f"{table} is append-only (Art. 28)"
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb} BEFORE {verb.upper()} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            for verb in ("update", "delete")
        ]
    if dialect == "postgresql":
        return [
            f"CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql "
            f"AS $$ BEGIN RAISE EXCEPTION '{message}'; END $$",
            f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()",
            # TRUNCATE fires no row trigger: a statement trigger of its own.
            f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()",
        ]
    if dialect in {"mysql", "mariadb"}:
        return [
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb} BEFORE {verb.upper()} ON {table} "
            f"FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{message}'"
            for verb in ("update", "delete")
        ]
    return []


def append_only_triggers(dialect: str, table: str) -> set[str]:
    """The names of the triggers `append_only` creates on `table`."""
    if dialect == "postgresql":
        return {f"{table}_append_only", f"{table}_no_truncate"}
    if dialect in {"sqlite", "mysql", "mariadb"}:
        return {f"{table}_no_update", f"{table}_no_delete"}
    return set()


def is_privilege_error(error: DBAPIError) -> bool:
    """Whether the database refused a statement for lack of privilege (not for a fault)."""
    original = error.orig
    if getattr(original, "sqlstate", None) in _PRIVILEGE_SQLSTATES:
        return True
    args: tuple[object, ...] = tuple(getattr(original, "args", ()))
    return bool(args) and args[0] in _PRIVILEGE_ERRNOS


async def ensure_tables(
    connection: AsyncConnection, metadata: MetaData, append_only_tables: Sequence[str] = ()
) -> None:
    """Create `metadata`'s missing tables and the missing append-only triggers; nothing else.

    A store whose tables and triggers exist gets no DDL at all, so a role without DDL
    privileges starts. A missing table it may not create raises (the administrator must run
    `govgate audit init-roles`); a missing trigger it may not create is logged and skipped.
    """
    dialect = connection.dialect.name
    missing = await connection.run_sync(
        lambda sync: [t for t in metadata.sorted_tables if not inspect(sync).has_table(t.name)]
    )
    if missing:
        await connection.run_sync(metadata.create_all, tables=missing)
    for table in append_only_tables:
        wanted = append_only_triggers(dialect, table)
        if not wanted or wanted <= await _triggers_on(connection, table):
            continue
        try:
            if dialect == "postgresql":  # a refused statement must not end the transaction
                async with connection.begin_nested():
                    for statement in append_only(dialect, table):
                        await connection.execute(text(statement))
            else:
                for statement in append_only(dialect, table):
                    await connection.execute(text(statement))
        except DBAPIError as error:
            if not is_privilege_error(error):
                raise
            log.warning(
                "the append-only triggers on %s are missing and this role may not create them; "
                "an administrator should run `govgate audit init-roles` (docs/deploy.md)",
                table,
            )


async def _triggers_on(connection: AsyncConnection, table: str) -> set[str]:
    """The names of the triggers on `table`, as far as this role may see them."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"
    elif dialect == "postgresql":
        query = "SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass(:t) AND NOT tgisinternal"
    elif dialect in {"mysql", "mariadb"}:
        query = (
            "SELECT trigger_name FROM information_schema.triggers "
            "WHERE event_object_schema = DATABASE() AND event_object_table = :t"
        )
    else:
        return set()
    result = await connection.execute(text(query), {"t": table})
    return {str(name) for (name,) in result.all()}
