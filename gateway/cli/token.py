"""`govgate token`: print a development token; `govgate token revoke`: refuse one everywhere."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from gateway.cli._options import catalog_option, data_option, deployment_options, fail
from policies.catalog import load_catalog
from policies.errors import PolicyError

if TYPE_CHECKING:
    from pathlib import Path

    from gateway.settings import Settings

__all__ = ["token_group"]

#: Seconds added to a revocation's lifetime: the clock leeway a gateway allows on `exp`.
_MARGIN = 60


@click.group("token", invoke_without_command=True)
@click.option("--agency", default=None, help="Agency code from the catalogue, e.g. TH-CA.")
@click.option(
    "--ttl",
    "ttl_seconds",
    type=click.IntRange(60, 31_536_000),
    default=3600,
    show_default=True,
    metavar="SECONDS",
    help="How long the token stays valid (a gateway refuses more than its "
    "identity.max_token_lifetime, 24 h by default).",
)
@data_option("Folder whose keys/dev-signing-key.pem signs the token (created if missing).")
@catalog_option
@click.option(
    "--officer",
    default=None,
    metavar="ID",
    help="The acting officer, put in the token's act claim (RFC 8693; Art. 29, 34), e.g. a "
    "staff number.",
)
@click.pass_context
def token_group(
    context: click.Context, agency: str | None, ttl_seconds: int, data_dir: Path,
    catalog_path: Path, officer: str | None,
) -> None:  # fmt: skip
    """Print a token for --agency, signed with the development key that demo serves with.

    `govgate token revoke` refuses a token on every gateway process within seconds.
    """
    if context.invoked_subcommand is not None:
        return
    if agency is None:
        fail("name the agency: govgate token --agency CODE (or govgate token revoke ...).")
    from gateway.errors import SigningKeyError  # noqa: PLC0415 (only `token` signs)
    from gateway.identity import DEFAULT_MAX_LIFETIME  # noqa: PLC0415
    from gateway.identity.dev_keys import dev_signing_key, issue_token  # noqa: PLC0415 (only `token` signs)

    try:
        load_catalog(catalog_path).agency(agency)
        key = dev_signing_key(data_dir)
    except (PolicyError, SigningKeyError) as error:
        fail(str(error))
    if ttl_seconds > DEFAULT_MAX_LIFETIME:
        click.echo(
            f"warning: a gateway with the default identity.max_token_lifetime "
            f"({DEFAULT_MAX_LIFETIME} s) refuses a token that lives {ttl_seconds} s.",
            err=True,
        )
    try:
        click.echo(issue_token(key, agency=agency, officer=officer, ttl_seconds=ttl_seconds))
    except ValueError as error:
        fail(f"--officer: {error}")


@token_group.command("revoke")
@click.option("--jti", default=None, help="The id (jti claim) of the token to revoke.")
@click.option(
    "--token", "token", default=None, help="The token itself: its jti and exp are read from it."
)
@click.option("--reason", default=None, help="Why, for the record (e.g. a ticket number).")
@deployment_options
def revoke_command(
    settings: Settings, jti: str | None, token: str | None, reason: str | None
) -> None:
    """Revoke a token: every gateway process of the deployment refuses it within seconds.

    The revocation is kept in the gateway's database until the token would have expired
    anyway. Give --jti, or --token to take the jti (and the expiry) from the token.
    """
    if (jti is None) == (token is None):
        fail("give exactly one of --jti ID and --token TOKEN.")
    now = int(time.time())
    # No token the gateway accepts outlives this: exp - iat <= the cap, iat not in the future.
    bound = now + settings.max_token_lifetime + _MARGIN
    expires_at = bound
    if token is not None:
        jti, expires = _claims_of(token)
        if expires is not None:
            expires_at = min(expires + _MARGIN, bound)
    if not jti:
        fail("the token has no jti claim, so it cannot be revoked by id; rotate the signing "
             "key its issuer used instead.")  # fmt: skip
    try:
        asyncio.run(_revoke(settings, jti, expires_at, reason))
    except ValueError as error:
        fail(str(error))
    except (OSError, TimeoutError) as error:
        fail(f"cannot write the revocation into the gateway's database ({error}); is it running?")
    until = datetime.fromtimestamp(expires_at, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    click.echo(f"revoked token {jti}: every gateway process refuses it within seconds "
               f"(kept until {until}).")  # fmt: skip


def _claims_of(token: str) -> tuple[str | None, int | None]:
    """(jti, exp) of `token`, read without checking its signature: revoking a forged token's
    id harms nothing, and an expired or foreign-signed token must be revocable too."""
    import jwt  # noqa: PLC0415

    try:
        claims = jwt.decode(token.strip(), options={"verify_signature": False})
    except jwt.InvalidTokenError:
        fail("--token is not a JWT (three base64url parts); paste the token exactly.")
    jti, exp = claims.get("jti"), claims.get("exp")
    expires = int(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None
    if expires is not None and not -(2**62) < expires < 2**62:
        expires = None
    return (jti if isinstance(jti, str) else None), expires


async def _revoke(settings: Settings, jti: str, expires_at: int, reason: str | None) -> None:
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415

    from gateway.identity.revocation import RevocationStore  # noqa: PLC0415
    from sources.engines import make_engine  # noqa: PLC0415

    engine = make_engine(settings.audit_url)
    store = RevocationStore(engine)
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    try:
        await store.create()
        await store.revoke(jti, expires_at=expires_at, at=at, reason=reason)
    except SQLAlchemyError as error:
        raise OSError(str(error).splitlines()[0]) from None
    finally:
        await engine.dispose()
