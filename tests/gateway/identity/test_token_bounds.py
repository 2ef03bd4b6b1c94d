"""Tokens have bounds: `iat` and `jti` are required, the lifetime is capped, and a token revoked
with `govgate token revoke` is refused by every gateway process within seconds."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import httpx
import jwt
import pytest

from gateway.http.app import create_app
from gateway.identity import Authenticator, IdentityConfig
from gateway.identity.dev_keys import DEV_AUDIENCE, DEV_ISSUER, dev_signing_key, issue_token
from gateway.settings import load_settings
from tests.gateway.cli.test_token_command import govgate
from tests.gateway.conftest import LiveServer
from tests.gateway.deployments import serving
from tests.gateway.http.test_workers import deployment
from tests.gateway.identity.test_identity import (
    agency_of,
    bearer,
    ed25519_key,
    good_claims,
    refusal,
    signed,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from gateway.identity.dev_keys import SigningKey

ME = {"query": "{ me { agency { code } } }"}
YEARS_10 = 10 * 365 * 86_400


def authenticator_for(key: SigningKey, **options: object) -> Authenticator:
    config = IdentityConfig(issuer=DEV_ISSUER, audience=DEV_AUDIENCE,
                            public_keys={key.kid: key.public_pem()}, **options)  # type: ignore[arg-type]  # fmt: skip
    return Authenticator(config, is_known_agency=lambda code: code == "TH-CA")


@pytest.mark.parametrize("lifetime", [YEARS_10, 2**62, 86_401])
async def test_a_token_that_lives_longer_than_the_cap_is_refused(lifetime: int) -> None:
    key = ed25519_key()
    now = int(time.time())
    token = signed(key, good_claims(iat=now, exp=now + lifetime))
    error = await refusal(authenticator_for(key), bearer(token))
    assert error.reason == "lifetime_too_long"
    assert "at most 24 h" in error.message


async def test_the_lifetime_cap_is_configurable_and_a_token_at_the_cap_passes() -> None:
    key = ed25519_key()
    now = int(time.time())
    day = signed(key, good_claims(iat=now, exp=now + 86_400))
    assert (await authenticator_for(key).authenticate(bearer(day))).agency == "TH-CA"
    error = await refusal(authenticator_for(key, max_lifetime_seconds=3600), bearer(day))
    assert error.reason == "lifetime_too_long"
    assert "lives 24 h (exp - iat)" in error.message
    assert "at most 60 min" in error.message


async def test_a_token_issued_in_the_future_is_refused() -> None:
    key = ed25519_key()
    now = int(time.time())
    token = signed(key, good_claims(iat=now + 3600, nbf=None, exp=now + 7200))
    error = await refusal(authenticator_for(key), bearer(token))
    assert error.reason == "not_yet_valid"


async def test_a_deployment_may_waive_the_jti_but_never_the_iat() -> None:
    key = ed25519_key()
    waived = authenticator_for(key, require_jti=False)
    assert await agency_of(waived, bearer(signed(key, good_claims(jti=None)))) == "TH-CA"
    error = await refusal(waived, bearer(signed(key, good_claims(iat=None))))
    assert error.reason == "missing_claim"
    assert "has no iat claim" in error.message


async def test_a_revoked_jti_is_refused_and_other_tokens_are_not() -> None:
    key = ed25519_key()
    config = IdentityConfig(issuer=DEV_ISSUER, audience=DEV_AUDIENCE,
                            public_keys={key.kid: key.public_pem()})  # fmt: skip
    authenticator = Authenticator(config, is_known_agency=lambda code: code == "TH-CA",
                                  is_revoked={"gone"}.__contains__)  # fmt: skip
    error = await refusal(authenticator, bearer(signed(key, good_claims(jti="gone"))))
    assert error.reason == "revoked"
    assert await agency_of(authenticator, bearer(signed(key, good_claims()))) == "TH-CA"


# -- revocation, end to end -------------------------------------------------------------------


def until(predicate: Callable[[], bool], seconds: float) -> float:
    """Seconds it took `predicate` to hold; fails after `seconds`."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > seconds:
            pytest.fail(f"not within {seconds} s")
        time.sleep(0.05)
    return time.monotonic() - started


def reason(url: str, token: str) -> str | None:
    response = httpx.post(f"{url}/graphql", json=ME, timeout=10,
                          headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    if response.status_code == 200:
        return None
    return str(response.json()["errors"][0]["extensions"]["reason"])


def test_a_token_revoked_by_the_cli_is_refused_by_a_live_gateway_within_seconds(
    seeded: Path, tmp_path: Path
) -> None:
    config = deployment(tmp_path, seeded, f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}")
    key = dev_signing_key(seeded)
    token, other = (issue_token(key, agency="TH-CA") for _ in range(2))
    with LiveServer(create_app(load_settings(config.config))) as server:
        assert reason(server.url, token) is None
        revoked = govgate("token", "revoke", "--token", token, "--config", str(config.config),
                          "--reason", "laptop stolen")  # fmt: skip
        assert revoked.returncode == 0, revoked.stderr
        assert "every gateway process refuses it within seconds" in revoked.stdout
        took = until(lambda: reason(server.url, token) == "revoked", 5)
        assert reason(server.url, other) is None  # the agency's other tokens still work
    assert took < 5


@pytest.mark.postgres
def test_every_worker_refuses_a_revoked_token_within_seconds(
    seeded: Path, tmp_path: Path, postgres_url: str
) -> None:
    config = deployment(tmp_path, seeded, postgres_url)
    key = dev_signing_key(seeded)
    token = issue_token(key, agency="TH-CA")
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    with serving(config, "--workers", "3") as url:
        assert reason(url, token) is None
        revoked = govgate("token", "revoke", "--jti", jti, "--config", str(config.config))
        assert revoked.returncode == 0, revoked.stderr
        until(lambda: reason(url, token) == "revoked", 3)
        # Every worker: many requests over new connections land on all of them.
        assert {reason(url, token) for _ in range(30)} == {"revoked"}
        assert reason(url, issue_token(key, agency="TH-CA")) is None


def test_revoke_needs_exactly_one_of_jti_and_token(tmp_path: Path, seeded: Path) -> None:
    config = deployment(tmp_path, seeded, f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}")
    neither = govgate("token", "revoke", "--config", str(config.config))
    assert neither.returncode == 2
    assert "exactly one of --jti ID and --token TOKEN" in neither.stderr
    garbage = govgate("token", "revoke", "--token", "not-a-jwt", "--config", str(config.config))
    assert garbage.returncode == 2
    assert "--token is not a JWT" in garbage.stderr


def test_govgate_token_still_prints_a_token_and_warns_past_the_default_cap(tmp_path: Path) -> None:
    result = govgate("token", "--agency", "TH-CA", "--ttl", "172800", "--data", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(".") == 2
    assert "refuses a token that lives 172800 s" in result.stderr
