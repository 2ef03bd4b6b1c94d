"""Verified tokens are remembered until they expire; what can change while a token lives
(revocation, its key, its agency) is re-checked on every request."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import pytest

from gateway.identity import Authenticator, IdentityConfig
from gateway.identity.dev_keys import DEV_AUDIENCE, DEV_ISSUER, SigningKey, issue_token
from gateway.identity.token_cache import TokenCache, token_digest
from gateway.settings import load_settings
from tests.gateway.identity.test_identity import (
    JwksServer,
    bearer,
    ed25519_key,
    good_claims,
    http,  # noqa: F401 (a fixture)
    is_known_agency,  # noqa: F401 (a fixture)
    jwks,  # noqa: F401 (a fixture)
    jwks_authenticator,
    refusal,
    signed,
)

if TYPE_CHECKING:
    from pathlib import Path

    import httpx

    from tests.gateway.identity.test_identity import KnownAgency


def remembering(
    key: SigningKey,
    *,
    agencies: set[str] | None = None,
    revoked: set[str] | None = None,
    **options: object,
) -> Authenticator:
    config = IdentityConfig(issuer=DEV_ISSUER, audience=DEV_AUDIENCE,
                            public_keys={key.kid: key.public_pem()}, **options)  # type: ignore[arg-type]  # fmt: skip
    known = {"TH-CA", "GZ-PSB"} if agencies is None else agencies
    gone = set() if revoked is None else revoked
    return Authenticator(config, is_known_agency=known.__contains__, is_revoked=gone.__contains__)


async def test_a_repeated_token_is_answered_from_the_cache_with_the_same_identity() -> None:
    key = ed25519_key()
    authenticator = remembering(key)
    token = bearer(signed(key, good_claims(act={"sub": "440106-0042"})))
    first = await authenticator.authenticate(token)
    again = await authenticator.authenticate(token)
    assert again is first  # the remembered conclusion, not a second verification
    assert (again.agency, again.officer) == ("TH-CA", "440106-0042")
    assert len(authenticator.verified) == 1


async def test_a_cached_token_revoked_afterwards_is_refused_at_once() -> None:
    key = ed25519_key()
    revoked: set[str] = set()
    authenticator = remembering(key, revoked=revoked)
    claims = good_claims()
    token = bearer(signed(key, claims))
    assert (await authenticator.authenticate(token)).agency == "TH-CA"
    revoked.add(claims["jti"])
    error = await refusal(authenticator, token)
    assert error.reason == "revoked"
    error = await refusal(authenticator, token)  # and stays refused
    assert error.reason == "revoked"
    assert len(authenticator.verified) == 0


async def test_a_cached_token_is_refused_once_it_has_expired() -> None:
    key = ed25519_key()
    authenticator = remembering(key, leeway_seconds=0)
    now = int(time.time())
    token = bearer(signed(key, good_claims(iat=now, nbf=now, exp=now + 1)))
    assert (await authenticator.authenticate(token)).agency == "TH-CA"
    assert len(authenticator.verified) == 1
    await asyncio.sleep(max(0.0, now + 1.05 - time.time()))
    error = await refusal(authenticator, token)
    assert error.reason == "expired"
    assert len(authenticator.verified) == 0


async def test_a_token_expired_but_within_the_leeway_is_checked_in_full_and_not_kept() -> None:
    key = ed25519_key()
    authenticator = remembering(key)  # 30 s of leeway
    token = bearer(issue_token(key, agency="TH-CA", ttl_seconds=600, now=int(time.time()) - 610))
    assert (await authenticator.authenticate(token)).agency == "TH-CA"
    assert len(authenticator.verified) == 0


async def test_a_cached_token_of_an_agency_dropped_from_the_catalogue_is_refused() -> None:
    key = ed25519_key()
    agencies = {"TH-CA"}
    authenticator = remembering(key, agencies=agencies)
    token = bearer(signed(key, good_claims()))
    assert (await authenticator.authenticate(token)).agency == "TH-CA"
    agencies.clear()  # a policy reload without the agency
    error = await refusal(authenticator, token)
    assert error.reason == "unknown_agency"


async def test_a_cached_token_whose_key_was_replaced_in_the_jwks_is_refused_after_the_refresh(
    jwks: JwksServer,  # noqa: F811 (the fixture)
    http: httpx.AsyncClient,  # noqa: F811 (the fixture)
    is_known_agency: KnownAgency,  # noqa: F811 (the fixture)
) -> None:
    old = ed25519_key()
    # The issuer rotates to a new key under the same kid: only a cache that remembers the very
    # key object (not the kid) notices.
    new = SigningKey(kid=old.kid, algorithm="EdDSA", private_key=ed25519_key().private_key)
    jwks.publish(old)
    authenticator = jwks_authenticator(jwks.url, is_known_agency, http, max_age=0.5)
    token = bearer(issue_token(old, agency="TH-CA"))
    assert (await authenticator.authenticate(token)).agency == "TH-CA"
    jwks.publish(new)
    assert (await authenticator.authenticate(token)).agency == "TH-CA"  # keys still fresh
    await asyncio.sleep(0.6)
    error = await refusal(authenticator, token)
    assert error.reason == "bad_signature"
    assert jwks.hits == 2
    assert (await authenticator.authenticate(bearer(issue_token(new, agency="TH-CA")))).agency


async def test_the_cache_is_bounded_keeps_the_most_recent_and_never_the_token_itself() -> None:
    key = ed25519_key()
    authenticator = remembering(key, token_cache_size=2)
    tokens = [signed(key, good_claims()) for _ in range(3)]
    for token in tokens:
        await authenticator.authenticate(bearer(token))
    await authenticator.authenticate(bearer(tokens[1]))  # now the most recent
    await authenticator.authenticate(bearer(signed(key, good_claims())))
    cache = authenticator.verified
    assert len(cache) == 2
    now = time.time()
    assert cache.get(token_digest(tokens[1]), now) is not None
    assert cache.get(token_digest(tokens[0]), now) is None
    assert cache.get(token_digest(tokens[2]), now) is None
    assert all(len(digest) == 32 for digest in cache._entries)
    assert not any(token.encode() in digest for token in tokens for digest in cache._entries)


async def test_a_cache_of_size_zero_remembers_nothing() -> None:
    key = ed25519_key()
    authenticator = remembering(key, token_cache_size=0)
    token = bearer(signed(key, good_claims()))
    first = await authenticator.authenticate(token)
    again = await authenticator.authenticate(token)
    assert again == first
    assert again is not first
    assert len(authenticator.verified) == 0


def test_a_negative_cache_size_is_refused_with_a_sentence() -> None:
    key = ed25519_key()
    with pytest.raises(ValueError, match="token_cache_size must be 0"):
        IdentityConfig(issuer=DEV_ISSUER, audience=DEV_AUDIENCE,
                       public_keys={key.kid: key.public_pem()}, token_cache_size=-1)  # fmt: skip
    with pytest.raises(ValueError, match="must be 0 or more"):
        TokenCache(-5)


def test_the_deployment_file_sets_the_cache_size(tmp_path: Path) -> None:
    config = tmp_path / "govgate.toml"
    config.write_text(
        '[sources]\npersons = "sqlite+aiosqlite:///p.db"\nentities = "sqlite+aiosqlite:///e.db"\n'
        'land = "sqlite+aiosqlite:///l.db"\nlicenses = "sqlite+aiosqlite:///x.db"\n'
        "[identity]\ntoken_cache_size = 0\n",
        "utf-8",
    )
    assert load_settings(config).token_cache_size == 0
    config.write_text(config.read_text("utf-8").replace("= 0", "= -1"), "utf-8")
    with pytest.raises(Exception, match=r"identity\.token_cache_size"):
        load_settings(config)
