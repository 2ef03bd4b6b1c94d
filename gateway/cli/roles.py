"""`govgate audit init-roles` and `govgate audit init-witness`: PostgreSQL roles (Art. 28).

govgate audit init-roles   --admin-url URL [--role govgate] [--owner ROLE] [--password-env VAR]
govgate audit init-witness --admin-url URL [--role govgate_witness] [--owner ROLE] [...]

Both connect as an administrator, create the tables if missing, and leave the named role only
what `gateway.provision.roles` grants it; they print every change and may be run again at will.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from gateway.cli._options import fail
from gateway.cli.audit import audit_group
from gateway.provision.roles import RoleSetup, RoleSetupError, init_gateway_role, init_witness_role
from sources.errors import SourceError

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from typing import Any

__all__ = ["init_roles_command", "init_witness_command"]


def _options(role: str, what: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        command = click.option(
            "--password-env", metavar="VARIABLE", default=None,
            help=f"Set the {what} role's password from this environment variable (never on the "
            "command line). Without it a new role gets no password (certificate or peer "
            "authentication) and an existing one keeps its own.",
        )(command)  # fmt: skip
        command = click.option(
            "--owner", default=None,
            help="The role that owns every table (created NOLOGIN if missing). Default: the "
            "administrator the URL connects as.",
        )(command)  # fmt: skip
        command = click.option(
            "--role", default=role, show_default=True, help=f"The role the {what} logs in as."
        )(command)
        return click.option(
            "--admin-url", envvar="GOVGATE_ADMIN_URL", required=True,
            help="A PostgreSQL administrator's URL to the database, e.g. "
            "postgresql+asyncpg://postgres@db.internal/govgate_audit (or $GOVGATE_ADMIN_URL).",
        )(command)  # fmt: skip

    return decorate


@audit_group.command("init-roles")
@_options("govgate", "gateway")
def init_roles_command(
    admin_url: str, role: str, owner: str | None, password_env: str | None
) -> None:
    """Make the gateway's role append-only on PostgreSQL: it may append and read the audit
    log, and add vouchers, keys and policies, but never change, delete or truncate a record,
    drop a trigger or run DDL. The tables belong to the owner role."""
    _run(init_gateway_role, admin_url, role, owner, password_env, setting="[audit] url")


@audit_group.command("init-witness")
@_options("govgate_witness", "witness publisher")
def init_witness_command(
    admin_url: str, role: str, owner: str | None, password_env: str | None
) -> None:
    """Prepare a witness database: the audit_witness table, owned by the owner role, and a
    role that may only INSERT into it (the gateway publishes its signed heads with it)."""
    _run(init_witness_role, admin_url, role, owner, password_env, setting="[audit] witnesses")


def _run(
    init: Callable[[str, RoleSetup], Coroutine[Any, Any, list[str]]],
    admin_url: str,
    role: str,
    owner: str | None,
    password_env: str | None,
    *,
    setting: str,
) -> None:
    password = None
    if password_env is not None:
        password = os.environ.get(password_env)
        if not password:
            fail(f"--password-env {password_env}: that environment variable is not set or empty.")
    try:
        url = make_url(admin_url)
    except ArgumentError:
        fail("--admin-url is not a database URL; give postgresql+asyncpg://ADMIN@HOST/DATABASE.")
    try:
        done = asyncio.run(init(admin_url, RoleSetup(role=role, owner=owner, password=password)))
    except RoleSetupError as error:
        fail(str(error))
    except (SQLAlchemyError, OSError, SourceError) as error:
        fail(f"cannot set up roles through {url.render_as_string(hide_password=True)} "
             f"({type(error).__name__}: {str(error).strip().splitlines()[0]}); check the URL "
             "and that the database is up.")  # fmt: skip
    for line in done:
        click.echo(line)
    login = url.set(username=role, password="PASSWORD" if password else None)
    click.echo(f"done: connect as {login.render_as_string(hide_password=False)} ({setting}).")
