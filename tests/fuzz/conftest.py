"""A gateway of the fuzz tests' own on a real port, the three agencies' views of it, and tokens.

The gateway serves the demo deployment over the session's seeded data with an audit store of
its own (so every record in it is one of ours), its clock pinned as the other HTTP tests pin it.
Verification windows are switched off here only: the fuzzer must reach the verification
resolvers (not only the window refusing them), and tests/gateway/test_rate_limits.py holds the
windows. Each agency's schema is read by introspection over HTTP, as an agency's developer would.

Every import of the gateway's own modules is in this file and tests/fuzz/attack.py, so a move
of `gateway/` touches only these.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from graphql import build_client_schema, get_introspection_query

from gateway.http.app import create_app
from gateway.identity.dev_keys import DEV_AUDIENCE, DEV_ISSUER, dev_signing_key, issue_token
from gateway.settings import AgencyRateLimits, RateLimits, ServerOptions, Settings
from tests.conftest import NOW
from tests.fuzz.harness import FuzzGateway
from tests.fuzz.oracle import Divisions
from tests.gateway.conftest import LiveServer, isolated

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from graphql import GraphQLSchema

    from gateway.identity.dev_keys import SigningKey
    from policies.grants import Grants, Policy

#: A broad agency (the whole city, most fields), a district one (Tianhe, Art. 21) and one that
#: may only verify a person's name (Art. 24).
AGENCIES = ("GZ-PSB", "TH-CA", "GZ-WATER")


@dataclass(frozen=True)
class AgencyView:
    """What an agency's developer holds: a token, and the schema its introspection shows."""

    code: str
    token: str
    schema: GraphQLSchema
    grants: Grants

    @property
    def division(self) -> str | None:
        """The division its records are scoped to (Art. 21), or None for the whole city."""
        scope = self.grants.scopes["Person"]
        return scope.division if scope.kind == "division" else None


@dataclass(frozen=True)
class Fuzzed:
    """Everything the fuzz tests use: the gateway, the views, the policy and the records."""

    gateway: FuzzGateway
    server: LiveServer
    folder: Path
    views: dict[str, AgencyView]
    policy: Policy
    divisions: Divisions
    key: SigningKey

    def __repr__(self) -> str:
        # Hypothesis prints a failing example's arguments; the policy and records are huge,
        # and printing the policy's enforcer breaks the example's replay.
        return f"Fuzzed({self.server.url})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def token(self, agency: str, **claims: Any) -> str:
        """A valid token of `agency` signed with the development key."""
        if not claims:
            return issue_token(self.key, agency=agency)
        return sign(self.key, {**standard_claims(agency), **claims})

    def duties(self) -> list[str]:
        """Every duty id of the catalogue."""
        return sorted(d.id for d in self.policy.catalog.duties)


def standard_claims(agency: str, *, now: int | None = None) -> dict[str, Any]:
    """The claims of a valid development token of `agency` (as `govgate token` writes them)."""
    issued = int(time.time()) if now is None else now
    return {
        "sub": agency,
        "iss": DEV_ISSUER,
        "aud": DEV_AUDIENCE,
        "iat": issued,
        "nbf": issued,
        "exp": issued + 600,
        "jti": uuid.uuid4().hex,
    }


def sign(key: SigningKey, claims: dict[str, Any], **header: Any) -> str:
    """A JWT of `claims` (any JSON, NaN included) signed with `key`; `header` overrides."""
    head = {"alg": key.algorithm, "typ": "JWT", "kid": key.kid, **header}
    parts = [_b64(json.dumps(head).encode()), _b64(json.dumps(claims).encode())]
    signed = ".".join(parts).encode()
    private = key.private_key
    if not isinstance(private, Ed25519PrivateKey):
        raise TypeError("the development key is Ed25519")
    return f"{signed.decode()}.{_b64(private.sign(signed))}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def bad_authorizations(fuzzed: Fuzzed, agency: str) -> list[bytes]:
    """Authorization headers the gateway must refuse with 401: bad, expired, foreign tokens."""
    key = fuzzed.key
    good = fuzzed.token(agency)
    head, body, signature = good.split(".")
    foreign = Ed25519PrivateKey.generate()
    now = int(time.time())
    forged = jwt.encode(
        standard_claims(agency), foreign, algorithm="EdDSA", headers={"kid": key.kid}
    )
    claims = standard_claims(agency)
    tampered = _b64(
        json.dumps({**claims, "sub": "GZ-PSB" if agency != "GZ-PSB" else "TH-CA"}).encode()
    )
    # The key-confusion attack: HS256 "signed" with the public key as the shared secret.
    confused = _b64(b'{"alg":"HS256","typ":"JWT"}') + "." + body
    mac = hmac.new(key.public_pem().encode(), confused.encode(), hashlib.sha256).digest()
    unsigned = _b64(b'{"alg":"none","typ":"JWT"}') + f".{body}."
    tokens = [
        good[:-1] + ("A" if good[-1] != "A" else "B"),  # the signature changed
        f"{head}.{tampered}.{signature}",  # the claims changed
        forged,
        unsigned,
        f"{confused}.{_b64(mac)}",
        good[: len(good) // 2],
        "x.y.z",
        "...",
        "a" * 9000,
        issue_token(key, agency=agency, now=now - 7_200),  # expired an hour ago
        issue_token(key, agency="NO-SUCH-AGENCY"),
        issue_token(key, agency=agency, audience="another-service"),
        issue_token(key, agency=agency, issuer="someone-else"),
        sign(key, {**claims, "exp": now + 10 * 365 * 86_400}),  # lives ten years
        sign(key, {**claims, "iat": now + 3_600, "exp": now + 7_200}),  # issued in the future
        sign(key, {**claims, "nbf": now + 3_600}),
        sign(key, {k: v for k, v in claims.items() if k != "iat"}),
        sign(key, {k: v for k, v in claims.items() if k != "jti"}),
        sign(key, {**claims, "exp": float("nan")}),
        sign(key, {**claims, "iat": float("inf")}),
        sign(key, {**claims, "sub": ["GZ-PSB"]}),
        sign(key, claims, alg="RS256"),
        sign(key, claims, kid="another-key"),
    ]
    headers = [f"Bearer {t}".encode() for t in tokens]
    return [
        *headers,
        b"",
        b"Bearer",
        b"Bearer ",
        b"Basic dXNlcjpwYXNz",
        good.encode(),
        b"Bearer  " + good.encode() + b" extra",
        b"Token " + good.encode(),
        b"Bearer \xff\xfe",
    ]


def _introspect(url: str, token: str) -> GraphQLSchema:
    response = httpx.post(
        f"{url}/graphql",
        json={"query": get_introspection_query()},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    response.raise_for_status()
    return build_client_schema(response.json()["data"])


@pytest.fixture(scope="session")
def fuzzed(
    seeded: Path, policy: Policy, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fuzzed]:
    """The fuzz tests' own gateway, live, with the three agencies' views of it."""
    folder = tmp_path_factory.mktemp("fuzz-gateway")
    unlimited = AgencyRateLimits(
        verifications_per_minute=0, verifications_per_hour=0, subject_candidates=0
    )
    settings = dataclasses.replace(
        isolated(Settings.demo(seeded), folder), rate_limits=RateLimits(default=unlimited)
    )
    key = dev_signing_key(seeded)
    with LiveServer(create_app(settings, clock=lambda: NOW)) as server:
        views = {}
        for code in AGENCIES:
            token = issue_token(key, agency=code, ttl_seconds=43_200)
            views[code] = AgencyView(
                code, token, _introspect(server.url, token), policy.grants[code]
            )
        gateway = FuzzGateway(server.url, folder / "audit.db")
        try:
            yield Fuzzed(gateway, server, folder, views, policy, Divisions.read(seeded), key)
        finally:
            gateway.close()


@dataclass(frozen=True)
class Defended:
    """A gateway with the shipped defaults (rate limits on), for the attacker's review."""

    gateway: FuzzGateway
    server: LiveServer
    folder: Path
    key: SigningKey

    def __repr__(self) -> str:
        return f"Defended({self.server.url})"

    def token(self, agency: str, **claims: Any) -> str:
        """A valid token of `agency`, or one with `claims` changed, signed with the dev key."""
        if not claims:
            return issue_token(self.key, agency=agency)
        return sign(self.key, {**standard_claims(agency), **claims})

    def headers(self, agency: str, *extra: tuple[bytes, bytes]) -> list[tuple[bytes, bytes]]:
        """Authorization (as `agency`) and Content-Type headers, and `extra`."""
        return [
            (b"Authorization", f"Bearer {self.token(agency)}".encode()),
            (b"Content-Type", b"application/json"),
            *extra,
        ]


@pytest.fixture(scope="session")
def defended(seeded: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Defended]:
    """The demo deployment with its shipped limits, live, with an audit store of its own."""
    folder = tmp_path_factory.mktemp("defended-gateway")
    settings = isolated(Settings.demo(seeded), folder)
    with LiveServer(create_app(settings, clock=lambda: NOW)) as server:
        gateway = FuzzGateway(server.url, folder / "audit.db")
        try:
            yield Defended(gateway, server, folder, dev_signing_key(seeded))
        finally:
            gateway.close()


@contextmanager
def serving(seeded: Path, folder: Path, **server: Any) -> Iterator[Defended]:
    """A gateway of its own for one test, with `server` options (`max_requests=3`...)."""
    settings = dataclasses.replace(
        isolated(Settings.demo(seeded), folder), server=ServerOptions(**server)
    )
    with LiveServer(create_app(settings, clock=lambda: NOW), settings.server) as live:
        gateway = FuzzGateway(live.url, folder / "audit.db")
        try:
            yield Defended(gateway, live, folder, dev_signing_key(seeded))
        finally:
            gateway.close()
