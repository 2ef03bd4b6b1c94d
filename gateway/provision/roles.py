"""PostgreSQL roles: the gateway appends and reads its log; an administrator owns it (Art. 28).

The gateway's own database holds the audit log and head, vouchers, signing keys and published
policies. `init_gateway_role` (`govgate audit init-roles`) connects as an administrator, creates
the tables, makes an owner role own every object, and leaves the gateway's role exactly the
privileges in `GATEWAY_GRANTS`: it can append records and read them, move the one chain-head
row forward, and add vouchers, keys and policy versions; it cannot UPDATE, DELETE or TRUNCATE
the log or the evidence, drop or disable a trigger, or run any DDL (it owns nothing, not even
the database or its schema, whose owner could drop every table in it). `init_witness_role`
(`govgate audit init-witness`) does the same for a witness database (`gateway.trust.audit.witness`),
where the publishing role may only INSERT.

Every statement is idempotent: run it again after an upgrade (new tables) or to repair grants.

RoleSetupError
└── the administrator's database or roles do not allow the setup; the message says what to do
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from gateway.documents import DocumentStore
from gateway.errors import GatewayError
from gateway.identity.revocation import RevocationStore
from gateway.policy.sync import PolicyStore
from gateway.ratelimit.database import DatabaseWindows
from gateway.trust.audit.store import AuditStore
from gateway.trust.audit.witness import DatabaseWitness
from gateway.trust.vouchers.store import VoucherStore
from gateway.workflows.store import WorkflowStore
from sources.engines import make_engine

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = [
    "GATEWAY_GRANTS",
    "WITNESS_GRANTS",
    "RoleSetup",
    "RoleSetupError",
    "init_gateway_role",
    "init_witness_role",
]

#: What the gateway's role may do on each table of its database, and nothing more. A table
#: another module adds to this database needs its line here (and `create_gateway_tables`).
GATEWAY_GRANTS: Mapping[str, tuple[str, ...]] = {
    # Append records and read them (verify, reports); never change or remove one.
    "audit_log": ("SELECT", "INSERT"),
    # One head row per chain: added when a writer opens its chain, then moved forward by that
    # writer alone; never deleted, never renumbered.
    "audit_head": ("SELECT", "INSERT", "UPDATE (seq, hash, key_id, signature)"),
    # The registry of chains and the signed checkpoints over their heads: added, never changed.
    "audit_chains": ("SELECT", "INSERT"),
    "audit_checkpoints": ("SELECT", "INSERT"),
    # Evidence issued with answers (Art. 23) and the keys that signed it: added, never changed.
    "vouchers": ("SELECT", "INSERT"),
    "signing_keys": ("SELECT", "INSERT"),
    # Policies published for every process to follow (Art. 19); the id comes from a sequence.
    "policy_versions": ("SELECT", "INSERT"),
    # Who published each policy, when and on what approval (Art. 9): added, never changed.
    "policy_publications": ("SELECT", "INSERT"),
    # Rate-limit windows (docs/security.md): counters that slide, so rows come and go. They
    # are not evidence: the audit record of a refused request is.
    "rate_keys": ("SELECT", "INSERT", "UPDATE", "DELETE"),
    "rate_events": ("SELECT", "INSERT", "DELETE"),
    # Revoked tokens: added, and dropped once the token would have expired anyway.
    "revoked_tokens": ("SELECT", "INSERT", "DELETE"),
    # Workflow cases (Art. 19, 22): every step appended, never changed (gateway.workflows).
    "workflow_cases": ("SELECT", "INSERT"),
    "workflow_parties": ("SELECT", "INSERT"),
    "workflow_events": ("SELECT", "INSERT"),
    "workflow_notifications": ("SELECT", "INSERT"),
    "voucher_supersessions": ("SELECT", "INSERT"),
    # Trusted documents (persisted queries): every registration, approval and revocation
    # appended, never changed, so who approved what stays on record (gateway.documents).
    "trusted_documents": ("SELECT", "INSERT"),
}

#: The witness database: the publishing role adds heads and can neither read nor change them.
WITNESS_GRANTS: Mapping[str, tuple[str, ...]] = {"audit_witness": ("INSERT",)}

#: Privileges reported for a role on a table (PostgreSQL's table privileges).
_KINDS = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class RoleSetupError(GatewayError):
    """The roles cannot be set up as asked; the message says what to change."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleSetup:
    """Who is who: the role a gateway (or witness publisher) logs in as, and the owner."""

    #: The role to create or restrict (LOGIN).
    role: str
    #: The role that owns every object; None: the administrator the URL connects as.
    owner: str | None = None
    #: A password to set on `role` (None: leave it as it is; a new role gets none).
    password: str | None = None

    def __post_init__(self) -> None:
        for name in (self.role, self.owner):
            if name is not None and not _ROLE_NAME.fullmatch(name):
                raise RoleSetupError(
                    f"{name!r} is not a role name govgate sets up: use lower-case letters, "
                    "digits and underscores, starting with a letter (e.g. govgate)."
                )


async def create_gateway_tables(url: str) -> None:
    """Every table of the gateway's database, with triggers and the chain head (as admin)."""
    audit = AuditStore(url)
    try:
        await audit.create()
        await PolicyStore(audit.engine).create()
        await DatabaseWindows(audit.engine).create()
        await RevocationStore(audit.engine).create()
        await DocumentStore(audit.engine).create()
    finally:
        await audit.close()
    vouchers = VoucherStore(url)
    try:
        await vouchers.create()
    finally:
        await vouchers.close()
    workflows = WorkflowStore(url)
    try:
        await workflows.create()
    finally:
        await workflows.close()


async def create_witness_tables(url: str) -> None:
    """The witness table and its triggers (as admin)."""
    witness = DatabaseWitness(url)
    try:
        await witness.create()
    finally:
        await witness.close()


async def init_gateway_role(admin_url: str, setup: RoleSetup) -> list[str]:
    """Set up the gateway's database and role through `admin_url`; what was done, in lines."""
    return await _init(admin_url, setup, GATEWAY_GRANTS, create_gateway_tables)


async def init_witness_role(admin_url: str, setup: RoleSetup) -> list[str]:
    """Set up a witness database and its insert-only role; what was done, in lines."""
    return await _init(admin_url, setup, WITNESS_GRANTS, create_witness_tables)


async def _init(
    admin_url: str,
    setup: RoleSetup,
    grants: Mapping[str, tuple[str, ...]],
    create: Callable[[str], Awaitable[None]],
) -> list[str]:
    if make_url(admin_url).get_backend_name() != "postgresql":
        raise RoleSetupError(
            "roles are a PostgreSQL defence; pass a postgresql+asyncpg:// administrator URL. "
            "An embedded SQLite store has no roles: see docs/security.md for what protects it."
        )
    await create(admin_url)
    engine = make_engine(admin_url)
    try:
        async with engine.begin() as connection:
            return await _Setup(connection, setup, grants).run()
    except DBAPIError as error:
        original = getattr(error, "orig", None) or error
        raise RoleSetupError(
            f"the administrator URL may not do this ({str(original).strip().splitlines()[0]}); "
            "connect as a superuser, or as a role that owns the database and may create roles."
        ) from None
    finally:
        await engine.dispose()


class _Setup:
    """One run of the setup, inside one transaction (all or nothing)."""

    def __init__(
        self, connection: AsyncConnection, setup: RoleSetup, grants: Mapping[str, tuple[str, ...]]
    ) -> None:
        self.c = connection
        self.role = setup.role
        self.owner = setup.owner
        self.password = setup.password
        self.grants = grants
        self.done: list[str] = []

    async def run(self) -> list[str]:
        me = str(await self._value("SELECT current_user"))
        owner = self.owner or me
        if owner == self.role:
            raise RoleSetupError(
                f"the gateway's role {self.role} cannot also own the tables: pick another "
                "--owner (or connect as another administrator)."
            )
        database = str(await self._value("SELECT current_database()"))
        await self._roles(owner)
        await self._database(database, owner)
        await self._objects(owner)
        for table, privileges in self.grants.items():
            await self._table(table, privileges, owner)
        return self.done

    # -- roles ---------------------------------------------------------------------------------

    async def _roles(self, owner: str) -> None:
        if not await self._role_exists(owner):
            await self._run("CREATE ROLE %I NOLOGIN", owner)
            self.done.append(f"created role {owner} (NOLOGIN): it owns the tables")
        if not await self._role_exists(self.role):
            if self.password is None:
                await self._run("CREATE ROLE %I LOGIN", self.role)
            else:
                await self._run("CREATE ROLE %I LOGIN PASSWORD %L", self.role, self.password)
            self.done.append(f"created role {self.role} (LOGIN)")
        elif self.password is not None:
            await self._run("ALTER ROLE %I PASSWORD %L", self.role, self.password)
            self.done.append(f"set the password of role {self.role}")
        flags = (
            await self.c.execute(
                text(
                    "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls "
                    "FROM pg_roles WHERE rolname = :r"
                ),
                {"r": self.role},
            )
        ).one()
        if flags[0]:
            raise RoleSetupError(
                f"role {self.role} is a superuser, which no privilege binds; give the gateway "
                "another role, or run ALTER ROLE ... NOSUPERUSER first."
            )
        if any(flags[1:]):
            await self._run(
                "ALTER ROLE %I NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS", self.role
            )
            self.done.append(f"role {self.role} may no longer create databases or roles")
        if await self._value("SELECT pg_has_role(:r, :o, 'MEMBER')", r=self.role, o=owner):
            raise RoleSetupError(
                f"role {self.role} is a member of {owner}, so it holds the owner's rights; "
                f"REVOKE {owner} FROM {self.role}, or choose another --owner."
            )

    async def _database(self, database: str, owner: str) -> None:
        db_owner = str(
            await self._value(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = :d", d=database
            )
        )
        # The database's owner owns schema public (PostgreSQL 15) and may drop it, with every
        # table in it, whoever owns those tables.
        if await self._value("SELECT pg_has_role(:r, :o, 'MEMBER')", r=self.role, o=db_owner):
            await self._run("ALTER DATABASE %I OWNER TO %I", database, owner)
            self.done.append(f"database {database} now belongs to {owner} (was {db_owner})")
        schema_owner = str(
            await self._value(
                "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'public'"
            )
        )
        if schema_owner != "pg_database_owner" and await self._value(
            "SELECT pg_has_role(:r, :o, 'MEMBER')", r=self.role, o=schema_owner
        ):
            await self._run("ALTER SCHEMA public OWNER TO %I", owner)
            self.done.append(f"schema public now belongs to {owner} (was {schema_owner})")
        if await self._value("SELECT has_schema_privilege(:r, 'public', 'CREATE')", r=self.role):
            await self._run("REVOKE CREATE ON SCHEMA public FROM PUBLIC, %I", self.role)
            self.done.append(f"role {self.role} may no longer create objects in schema public")
        may_create = "SELECT has_database_privilege(:r, :d, 'CREATE')"
        if await self._value(may_create, r=self.role, d=database):
            await self._run("REVOKE CREATE ON DATABASE %I FROM PUBLIC, %I", database, self.role)
            self.done.append(f"role {self.role} may no longer create schemas in {database}")
        for check, what in (
            ("has_schema_privilege(:r, 'public', 'CREATE')", "create objects in schema public"),
            ("has_database_privilege(:r, current_database(), 'CREATE')", "create schemas"),
        ):
            if await self._value(f"SELECT {check}", r=self.role):
                raise RoleSetupError(
                    f"role {self.role} may still {what} through a role it belongs to; revoke "
                    "that membership and run this again."
                )
        await self._run("GRANT CONNECT ON DATABASE %I TO %I", database, self.role)
        await self._run("GRANT USAGE ON SCHEMA public TO %I", self.role)

    async def _objects(self, owner: str) -> None:
        """Hand every object the role owns here to `owner` (tables it made when it ran DDL)."""
        owned = (
            await self.c.execute(
                text(
                    "SELECT c.relname, c.relkind FROM pg_class c "
                    "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN "
                    "('r', 'p', 'v', 'm', 'S') AND pg_has_role(:r, c.relowner, 'MEMBER') "
                    "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = "
                    "'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i')) "
                    "ORDER BY c.relname"
                ),
                {"r": self.role},
            )
        ).all()
        for name, kind in owned:
            if kind != "S" and name not in self.grants:
                self.done.append(
                    f"warning: {name} is owned by {self.role} and unknown to govgate's roles; "
                    "left as it is (add it to gateway/provision/roles.py)"
                )
                continue
            what = "SEQUENCE" if kind == "S" else "TABLE"
            await self._run(f"ALTER {what} %I OWNER TO %I", name, owner)
            self.done.append(f"{name} now belongs to {owner} (was {self.role})")
        functions = await self.c.execute(
            text(
                "SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.pronamespace = "
                "'public'::regnamespace AND pg_has_role(:r, p.proowner, 'MEMBER') ORDER BY 1"
            ),
            {"r": self.role},
        )
        for (signature,) in functions.all():
            # A trigger function its owner may replace would let it make the trigger allow all.
            await self.c.exec_driver_sql(f"ALTER FUNCTION {signature} OWNER TO {_ident(owner)}")
            self.done.append(f"function {signature} now belongs to {owner} (was {self.role})")

    async def _table(self, table: str, privileges: tuple[str, ...], owner: str) -> None:
        if not await self._value("SELECT to_regclass(:t) IS NOT NULL", t=f"public.{table}"):
            raise RoleSetupError(f"table {table} is missing after creating the tables; run again.")
        before = await self._privileges(table)
        table_owner = await self._value(
            "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = to_regclass(:t)",
            t=f"public.{table}",
        )
        if table_owner != owner:
            await self._run("ALTER TABLE %I OWNER TO %I", table, owner)
            self.done.append(f"{table} now belongs to {owner} (was {table_owner})")
        await self._run("REVOKE ALL ON TABLE %I FROM PUBLIC, %I", table, self.role)
        await self.c.exec_driver_sql(
            f"GRANT {', '.join(privileges)} ON TABLE {_ident(table)} TO {_ident(self.role)}"
        )
        sequences = await self.c.execute(
            text(
                "SELECT s.relname FROM pg_class s JOIN pg_depend d ON d.objid = s.oid "
                "WHERE s.relkind = 'S' AND d.refobjid = to_regclass(:t) AND d.deptype IN ('a', 'i')"
            ),
            {"t": f"public.{table}"},
        )
        for (sequence,) in sequences.all():
            # A serial id: nextval (USAGE) and reading it (SELECT: `govgate backup`'s pg_dump),
            # never setval (UPDATE), which could make ids repeat.
            await self._run("REVOKE ALL ON SEQUENCE %I FROM PUBLIC, %I", sequence, self.role)
            await self._run("GRANT USAGE, SELECT ON SEQUENCE %I TO %I", sequence, self.role)
        after = await self._privileges(table)
        extra = [p for p in after if p not in privileges]
        if extra:  # through PUBLIC is revoked above: a role it belongs to grants them
            raise RoleSetupError(
                f"role {self.role} may still {', '.join(extra)} on {table} through a role it "
                "belongs to (pg_write_all_data, or another); revoke that membership and run "
                "this again."
            )
        change = "unchanged" if after == before else f"was: {', '.join(before) or 'nothing'}"
        self.done.append(f"{table}: {self.role} may {', '.join(after)} ({change})")

    # -- helpers -------------------------------------------------------------------------------

    async def _privileges(self, table: str) -> list[str]:
        """What the role may do on `table`, as PostgreSQL decides it (PUBLIC and memberships);
        a privilege on some columns only is listed with them."""
        held: list[str] = []
        where = f"public.{table}"
        for kind in _KINDS:
            if await self._value(
                "SELECT has_table_privilege(:r, to_regclass(:t), :k)", r=self.role, t=where, k=kind
            ):
                held.append(kind)
                continue
            if kind not in {"SELECT", "INSERT", "UPDATE", "REFERENCES"}:
                continue
            columns = await self.c.execute(
                text(
                    "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(:t) "
                    "AND attnum > 0 AND NOT attisdropped "
                    "AND has_column_privilege(:r, attrelid, attnum, :k) ORDER BY attnum"
                ),
                {"r": self.role, "t": where, "k": kind},
            )
            names = [str(name) for (name,) in columns.all()]
            if names:
                held.append(f"{kind} ({', '.join(names)})")
        return held

    async def _role_exists(self, name: str) -> bool:
        query = "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :n)"
        return bool(await self._value(query, n=name))

    async def _value(self, query: str, **values: object) -> object:
        return await self.c.scalar(text(query), values)

    async def _run(self, template: str, *values: str) -> None:
        """Run `template`, its %I (identifier) and %L (literal) filled in by PostgreSQL's own
        format(), so no name or password is ever quoted by hand."""
        placeholders = ", ".join(f"CAST(:v{i} AS text)" for i in range(len(values)))
        statement = await self._value(
            f"SELECT format(:template, {placeholders})",
            template=template, **{f"v{i}": v for i, v in enumerate(values)},
        )  # fmt: skip
        await self.c.exec_driver_sql(str(statement))


def _ident(name: str) -> str:
    """A quoted identifier (names are checked against `_ROLE_NAME` or come from the catalog)."""
    return '"' + name.replace('"', '""') + '"'
