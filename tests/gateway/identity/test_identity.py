"""Bearer-token identity: real signatures, and a real JWKS server over HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.http.responses import error_response
from gateway.identity import (
    AuthenticationError,
    Authenticator,
    IdentityConfig,
)
from gateway.identity.dev_keys import DEV_AUDIENCE, DEV_ISSUER, SigningKey, ed25519_kid, issue_token

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

    from starlette.requests import Request

    from policies.catalog import Catalog

    KnownAgency = Callable[[str], bool]


# -- keys, tokens and authenticators ----------------------------------------------------------


def ed25519_key() -> SigningKey:
    private = Ed25519PrivateKey.generate()
    return SigningKey(kid=ed25519_kid(private), algorithm="EdDSA", private_key=private)


def rsa_key(kid: str = "rsa-2026") -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return SigningKey(kid=kid, algorithm="RS256", private_key=private)


def ec_key(kid: str = "p256-2026") -> SigningKey:
    return SigningKey(
        kid=kid, algorithm="ES256", private_key=ec.generate_private_key(ec.SECP256R1())
    )


def jwk(key: SigningKey) -> dict[str, Any]:
    """The public JWK of a signing key, as an issuer publishes it in its JWKS."""
    public = key.private_key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        data = RSAAlgorithm.to_jwk(public, as_dict=True)
    elif isinstance(public, ec.EllipticCurvePublicKey):
        data = ECAlgorithm.to_jwk(public, as_dict=True)
    else:
        data = OKPAlgorithm.to_jwk(public, as_dict=True)
    return {**data, "kid": key.kid, "alg": key.algorithm, "use": "sig"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def handmade(
    header: dict[str, Any], claims: dict[str, Any], sign: Callable[[bytes], bytes] | None = None
) -> str:
    """A compact JWT put together by hand, as an attacker would (pyjwt refuses to make these)."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = sign(signing_input.encode("ascii")) if sign else b""
    return f"{signing_input}.{b64url(signature)}"


def good_claims(**changes: Any) -> dict[str, Any]:
    """Valid claims for TH-CA; a change to None drops that claim."""
    now = int(time.time())
    claims = {"sub": "TH-CA", "iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "iat": now, "nbf": now,
              "exp": now + 600, "jti": uuid.uuid4().hex, **changes}  # fmt: skip
    return {name: value for name, value in claims.items() if value is not None}


def signed(key: SigningKey, claims: dict[str, Any], **header: Any) -> str:
    return jwt.encode(claims, key.private_key, algorithm=key.algorithm,
                      headers={"kid": key.kid, **header})  # fmt: skip


def bearer(token: str) -> str:
    return f"Bearer {token}"


async def agency_of(authenticator: Authenticator, authorization: str) -> str:
    """The agency a bearer token authenticates as."""
    return (await authenticator.authenticate(authorization)).agency


def pem_config(*keys: SigningKey, **options: Any) -> IdentityConfig:
    return IdentityConfig(issuer=DEV_ISSUER, audience=DEV_AUDIENCE,
                          public_keys={k.kid: k.public_pem() for k in keys}, **options)  # fmt: skip


async def refusal(authenticator: Authenticator, authorization: str | None) -> AuthenticationError:
    """The error the authenticator raises; checks what every refusal message must be."""
    with pytest.raises(AuthenticationError) as caught:
        await authenticator.authenticate(authorization)
    error = caught.value
    token = (authorization or "").partition(" ")[2]
    if len(token) > 12:
        assert token not in error.message
        assert token.split(".")[0] not in error.message
    assert error.message == str(error)
    assert error.message[0].isupper()
    assert error.message.endswith(".")
    assert "Traceback" not in error.message
    return error


@pytest.fixture
def is_known_agency(catalog: Catalog) -> KnownAgency:
    codes = frozenset(agency.code for agency in catalog.agencies)
    return codes.__contains__


@pytest.fixture
def key() -> SigningKey:
    return ed25519_key()


@pytest.fixture
def authenticator(key: SigningKey, is_known_agency: KnownAgency) -> Authenticator:
    return Authenticator(pem_config(key), is_known_agency=is_known_agency)


# -- a real JWKS server ------------------------------------------------------------------------


@dataclass
class JwksServer:
    """What the JWKS endpoint serves, and how often it was asked."""

    url: str = ""
    keys: list[dict[str, Any]] = field(default_factory=list)
    hits: int = 0
    status: int = 200
    delay: float = 0.0

    def publish(self, *keys: SigningKey) -> None:
        self.keys = [jwk(key) for key in keys]


@pytest.fixture
def jwks() -> Iterator[JwksServer]:
    """A uvicorn server in a thread, on a free port of 127.0.0.1, serving /jwks.json."""
    state = JwksServer()

    async def serve_jwks(_request: Request) -> Response:
        state.hits += 1
        if state.delay:
            await asyncio.sleep(state.delay)
        return JSONResponse({"keys": state.keys}, status_code=state.status)

    app = Starlette(routes=[Route("/jwks.json", serve_jwks)])
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False,
                            http="h11", ws="none")  # fmt: skip
    server = uvicorn.Server(config)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        state.url = f"http://127.0.0.1:{listener.getsockname()[1]}/jwks.json"
        thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]})
        thread.start()
        try:
            deadline = time.monotonic() + 10
            while not server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    pytest.fail("The JWKS test server did not start within 10 s.")
                time.sleep(0.01)
            yield state
        finally:
            server.should_exit = True
            thread.join(10)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def jwks_authenticator(
    url: str,
    is_known_agency: KnownAgency,
    http: httpx.AsyncClient | None = None,
    *,
    refresh_interval: float = 30.0,
    max_age: float = 300.0,
) -> Authenticator:
    config = IdentityConfig(
        issuer=DEV_ISSUER,
        audience=DEV_AUDIENCE,
        jwks_url=url,
        jwks_refresh_interval=refresh_interval,
        jwks_max_age=max_age,
    )
    return Authenticator(config, is_known_agency=is_known_agency, http=http)


def free_port_url() -> str:
    """The address of a port on 127.0.0.1 where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/jwks.json"


# -- accepted tokens ---------------------------------------------------------------------------


async def test_a_token_signed_with_the_configured_ed25519_key_names_its_agency(
    authenticator: Authenticator, key: SigningKey
) -> None:
    token = issue_token(key, agency="TH-CA")
    assert await agency_of(authenticator, bearer(token)) == "TH-CA"
    assert await agency_of(authenticator, f"bearer   {token}  ") == "TH-CA"


async def test_a_token_without_a_kid_is_checked_with_the_only_configured_key(
    authenticator: Authenticator, key: SigningKey
) -> None:
    token = jwt.encode(good_claims(sub="PY-TAX"), key.private_key, algorithm="EdDSA")
    assert "kid" not in jwt.get_unverified_header(token)
    assert await agency_of(authenticator, bearer(token)) == "PY-TAX"


async def test_a_token_that_expired_within_the_leeway_is_still_accepted(
    authenticator: Authenticator, key: SigningKey
) -> None:
    token = issue_token(key, agency="TH-CA", ttl_seconds=3600, now=int(time.time()) - 3610)
    assert await agency_of(authenticator, bearer(token)) == "TH-CA"


async def test_rs256_tokens_are_accepted_when_configured(is_known_agency: KnownAgency) -> None:
    key = rsa_key()
    authenticator = Authenticator(pem_config(key, algorithms=("RS256",)),
                                  is_known_agency=is_known_agency)  # fmt: skip
    assert await agency_of(authenticator, bearer(issue_token(key, agency="GZ-TAX"))) == "GZ-TAX"


async def test_es256_tokens_are_accepted_when_configured(is_known_agency: KnownAgency) -> None:
    key = ec_key()
    authenticator = Authenticator(pem_config(key, algorithms=("ES256", "EdDSA")),
                                  is_known_agency=is_known_agency)  # fmt: skip
    assert await agency_of(authenticator, bearer(issue_token(key, agency="GZ-PSB"))) == "GZ-PSB"


async def test_a_token_signed_with_a_key_from_the_jwks_is_accepted_and_the_jwks_cached(
    jwks: JwksServer, http: httpx.AsyncClient, is_known_agency: KnownAgency
) -> None:
    key = ed25519_key()
    jwks.publish(rsa_key(), key)
    authenticator = jwks_authenticator(jwks.url, is_known_agency, http)
    for _ in range(3):
        assert await agency_of(authenticator, bearer(issue_token(key, agency="TH-CA"))) == "TH-CA"
    assert jwks.hits == 1


async def test_without_a_client_the_authenticator_fetches_the_jwks_with_its_own(
    jwks: JwksServer, is_known_agency: KnownAgency
) -> None:
    key = ed25519_key()
    jwks.publish(key)
    authenticator = jwks_authenticator(jwks.url, is_known_agency)
    assert await agency_of(authenticator, bearer(issue_token(key, agency="YX-AMR"))) == "YX-AMR"
    assert jwks.hits == 1


# -- refused tokens ----------------------------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "", "   "])
async def test_a_request_without_a_token_is_refused_as_missing(
    authenticator: Authenticator, authorization: str | None
) -> None:
    error = await refusal(authenticator, authorization)
    assert error.reason == "missing_token"
    assert error.status == 401
    assert "no bearer token" in error.message
    assert "Authorization: Bearer <token>" in error.message


@pytest.mark.parametrize(
    "authorization",
    ["Basic dGgtY2E6c2VjcmV0", "Bearer", "Bearer  ", "Bearer one two", "Token abc.def.ghi", "eyJ"],
)
async def test_an_authorization_header_that_is_not_bearer_and_a_token_is_refused(
    authenticator: Authenticator, authorization: str
) -> None:
    error = await refusal(authenticator, authorization)
    assert error.reason == "malformed_header"
    assert "not 'Bearer <token>'" in error.message


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        "a.b.c",
        "eyJhbGciOiJFZERTQSJ9.e30",
        f"{b64url(b'[1, 2]')}.e30.c2ln",
        f"{b64url(b'{oops')}.e30.c2ln",
        "x" * 9000,
    ],
)
async def test_garbage_in_place_of_a_token_is_refused_as_malformed(
    authenticator: Authenticator, token: str
) -> None:
    error = await refusal(authenticator, bearer(token))
    assert error.reason == "malformed_token"
    assert "JWT" in error.message or "longer than 8192" in error.message


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
async def test_an_unsigned_token_is_refused(
    authenticator: Authenticator, key: SigningKey, alg: str
) -> None:
    token = handmade({"alg": alg, "typ": "JWT", "kid": key.kid}, good_claims())
    error = await refusal(authenticator, bearer(token))
    assert error.reason == "unsigned_token"
    assert "unsigned (alg 'none')" in error.message
    assert "EdDSA" in error.message


async def test_an_hmac_token_using_the_public_key_as_its_secret_is_refused(
    key: SigningKey, is_known_agency: KnownAgency
) -> None:
    # The classic key-confusion attack: the public PEM is no secret, so anyone can make this.
    broad = ("EdDSA", "RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "ES512")
    authenticator = Authenticator(pem_config(key, algorithms=broad),
                                  is_known_agency=is_known_agency)  # fmt: skip
    secret = key.public_pem().encode("ascii")
    for alg, digest in (("HS256", "sha256"), ("HS512", "sha512")):

        def mac(data: bytes, digest: str = digest) -> bytes:
            return hmac.new(secret, data, digest).digest()

        token = handmade({"alg": alg, "typ": "JWT", "kid": key.kid}, good_claims(), mac)
        error = await refusal(authenticator, bearer(token))
        assert error.reason == "algorithm_not_allowed"
        assert f"signed with '{alg}'" in error.message
        assert "HMAC signatures are never accepted" in error.message


async def test_a_token_signed_with_an_algorithm_not_configured_is_refused(
    authenticator: Authenticator,
) -> None:
    error = await refusal(authenticator, bearer(issue_token(ec_key(), agency="TH-CA")))
    assert error.reason == "algorithm_not_allowed"
    assert "signed with 'ES256'" in error.message
    assert "it accepts EdDSA" in error.message


async def test_a_token_whose_algorithm_does_not_fit_its_key_is_refused(
    key: SigningKey, is_known_agency: KnownAgency
) -> None:
    authenticator = Authenticator(pem_config(key, algorithms=("EdDSA", "RS256")),
                                  is_known_agency=is_known_agency)  # fmt: skip
    impostor = rsa_key(kid=key.kid)  # an RSA token that names the Ed25519 key's kid
    error = await refusal(authenticator, bearer(issue_token(impostor, agency="TH-CA")))
    assert error.reason == "algorithm_not_allowed"
    assert "signed with RS256, but its key signs with EdDSA" in error.message


async def test_a_token_naming_an_unknown_key_is_refused(authenticator: Authenticator) -> None:
    stranger = ed25519_key()
    error = await refusal(authenticator, bearer(issue_token(stranger, agency="TH-CA")))
    assert error.reason == "unknown_key"
    assert f"names signing key {stranger.kid!r}" in error.message
    assert "does not know" in error.message


async def test_a_token_without_a_kid_is_refused_when_several_keys_could_check_it(
    key: SigningKey, is_known_agency: KnownAgency
) -> None:
    authenticator = Authenticator(pem_config(key, ed25519_key()), is_known_agency=is_known_agency)
    token = jwt.encode(good_claims(), key.private_key, algorithm="EdDSA")
    error = await refusal(authenticator, bearer(token))
    assert error.reason == "unknown_key"
    assert "names no key id" in error.message


async def test_a_token_signed_with_another_key_under_a_known_kid_is_refused(
    authenticator: Authenticator, key: SigningKey
) -> None:
    forger = SigningKey(kid=key.kid, algorithm="EdDSA", private_key=Ed25519PrivateKey.generate())
    error = await refusal(authenticator, bearer(issue_token(forger, agency="TH-CA")))
    assert error.reason == "bad_signature"
    assert "signature does not match" in error.message


async def test_a_token_whose_claims_were_changed_is_refused(
    authenticator: Authenticator, key: SigningKey
) -> None:
    header, _, signature = issue_token(key, agency="TH-CA").split(".")
    claims = b64url(json.dumps(good_claims(sub="GZ-PSB")).encode())
    error = await refusal(authenticator, bearer(f"{header}.{claims}.{signature}"))
    assert error.reason == "bad_signature"


async def test_an_expired_token_is_refused(authenticator: Authenticator, key: SigningKey) -> None:
    token = issue_token(key, agency="TH-CA", ttl_seconds=3600, now=int(time.time()) - 7200)
    error = await refusal(authenticator, bearer(token))
    assert error.reason == "expired"
    assert "has expired" in error.message
    assert "new one" in error.message


async def test_a_token_that_is_not_valid_yet_is_refused(
    authenticator: Authenticator, key: SigningKey
) -> None:
    token = issue_token(key, agency="TH-CA", now=int(time.time()) + 600)
    error = await refusal(authenticator, bearer(token))
    assert error.reason == "not_yet_valid"
    assert "not valid yet" in error.message
    assert "clock" in error.message


async def test_a_token_from_another_issuer_is_refused(
    authenticator: Authenticator, key: SigningKey
) -> None:
    token = issue_token(key, agency="TH-CA", issuer="someone-else")
    error = await refusal(authenticator, bearer(token))
    assert error.reason == "wrong_issuer"
    assert "issuer (iss)" in error.message
    assert "'govgate-dev'" in error.message


async def test_a_token_for_another_audience_is_refused(
    authenticator: Authenticator, key: SigningKey
) -> None:
    token = issue_token(key, agency="TH-CA", audience="payroll")
    error = await refusal(authenticator, bearer(token))
    assert error.reason == "wrong_audience"
    assert "audience (aud)" in error.message
    assert "'govgate'" in error.message


@pytest.mark.parametrize("claim", ["exp", "iat", "jti", "iss", "aud", "sub"])
async def test_a_token_without_a_required_claim_is_refused_naming_it(
    authenticator: Authenticator, key: SigningKey, claim: str
) -> None:
    error = await refusal(authenticator, bearer(signed(key, good_claims(**{claim: None}))))
    assert error.reason == "missing_claim"
    assert f"has no {claim} claim" in error.message


async def test_a_token_with_claims_of_the_wrong_type_is_refused_as_malformed(
    authenticator: Authenticator, key: SigningKey
) -> None:
    for changes in ({"exp": "tomorrow"}, {"sub": ["TH-CA"]}):
        error = await refusal(authenticator, bearer(signed(key, good_claims(**changes))))
        assert error.reason == "malformed_token"
        assert "claims are malformed" in error.message


async def test_a_token_for_an_agency_outside_the_catalogue_is_refused(
    authenticator: Authenticator, key: SigningKey
) -> None:
    error = await refusal(authenticator, bearer(issue_token(key, agency="XX-NOBODY")))
    assert error.reason == "unknown_agency"
    assert "'XX-NOBODY', which is not in the sharing catalogue" in error.message


# -- JWKS: rotation, coalescing, outages ----------------------------------------------------


async def test_a_new_kid_triggers_one_jwks_refresh_and_a_second_within_the_interval_none(
    jwks: JwksServer, http: httpx.AsyncClient, is_known_agency: KnownAgency
) -> None:
    old, new, unpublished = ed25519_key(), ed25519_key(), ed25519_key()
    jwks.publish(old)
    authenticator = jwks_authenticator(jwks.url, is_known_agency, http, refresh_interval=1.0)
    assert await agency_of(authenticator, bearer(issue_token(old, agency="TH-CA"))) == "TH-CA"
    assert jwks.hits == 1

    jwks.publish(old, new)  # the issuer rotates
    await asyncio.sleep(1.05)
    assert await agency_of(authenticator, bearer(issue_token(new, agency="PY-TAX"))) == "PY-TAX"
    assert jwks.hits == 2

    error = await refusal(authenticator, bearer(issue_token(unpublished, agency="TH-CA")))
    assert error.reason == "unknown_key"
    assert jwks.hits == 2  # within the refresh interval: no fetch
    assert await agency_of(authenticator, bearer(issue_token(old, agency="TH-CA"))) == "TH-CA"
    assert jwks.hits == 2


async def test_concurrent_requests_with_a_new_kid_share_one_jwks_fetch(
    jwks: JwksServer, http: httpx.AsyncClient, is_known_agency: KnownAgency
) -> None:
    key = ed25519_key()
    jwks.publish(key)
    jwks.delay = 0.2
    authenticator = jwks_authenticator(jwks.url, is_known_agency, http, refresh_interval=0)
    tokens = [bearer(issue_token(key, agency="TH-CA")) for _ in range(20)]
    agencies = await asyncio.gather(*(authenticator.authenticate(t) for t in tokens))
    assert [identity.agency for identity in agencies] == ["TH-CA"] * 20
    assert jwks.hits == 1


async def test_a_key_withdrawn_from_the_jwks_stops_verifying_once_the_cache_is_too_old(
    jwks: JwksServer, http: httpx.AsyncClient, is_known_agency: KnownAgency
) -> None:
    withdrawn, current = ed25519_key(), ed25519_key()
    jwks.publish(withdrawn, current)
    authenticator = jwks_authenticator(jwks.url, is_known_agency, http, max_age=1.0)
    token = bearer(issue_token(withdrawn, agency="TH-CA"))
    assert await agency_of(authenticator, token) == "TH-CA"
    jwks.publish(current)
    assert await agency_of(authenticator, token) == "TH-CA"  # the cache is still fresh
    await asyncio.sleep(1.05)
    error = await refusal(authenticator, token)
    assert error.reason == "unknown_key"
    assert jwks.hits == 2


async def test_cached_keys_keep_working_while_the_jwks_server_fails(
    jwks: JwksServer, http: httpx.AsyncClient, is_known_agency: KnownAgency
) -> None:
    key = ed25519_key()
    jwks.publish(key)
    authenticator = jwks_authenticator(jwks.url, is_known_agency, http,
                                       refresh_interval=0, max_age=0.1)  # fmt: skip
    token = bearer(issue_token(key, agency="TH-CA"))
    assert await agency_of(authenticator, token) == "TH-CA"
    jwks.status = 500
    await asyncio.sleep(0.15)
    assert await agency_of(authenticator, token) == "TH-CA"
    assert jwks.hits == 2


async def test_an_unreachable_jwks_url_refuses_tokens_as_keys_unavailable(
    http: httpx.AsyncClient, is_known_agency: KnownAgency
) -> None:
    authenticator = jwks_authenticator(free_port_url(), is_known_agency, http)
    error = await refusal(authenticator, bearer(issue_token(ed25519_key(), agency="TH-CA")))
    assert error.reason == "keys_unavailable"
    assert error.status == 503
    assert "cannot load its token-signing keys" in error.message
    assert "127.0.0.1" not in error.message


async def test_a_failing_jwks_server_refuses_tokens_as_keys_unavailable(
    jwks: JwksServer, http: httpx.AsyncClient, is_known_agency: KnownAgency
) -> None:
    key = ed25519_key()
    jwks.publish(key)
    jwks.status = 500
    authenticator = jwks_authenticator(jwks.url, is_known_agency, http, refresh_interval=0)
    error = await refusal(authenticator, bearer(issue_token(key, agency="TH-CA")))
    assert error.reason == "keys_unavailable"
    jwks.status = 200  # the server recovers
    assert await agency_of(authenticator, bearer(issue_token(key, agency="TH-CA"))) == "TH-CA"
    assert jwks.hits == 2


async def test_a_jwks_never_supplies_a_shared_secret_or_a_private_key(
    jwks: JwksServer, http: httpx.AsyncClient, is_known_agency: KnownAgency
) -> None:
    published, leaked_private = ed25519_key(), Ed25519PrivateKey.generate()
    leaked = SigningKey(kid=ed25519_kid(leaked_private), algorithm="EdDSA",
                        private_key=leaked_private)  # fmt: skip
    private_jwk = OKPAlgorithm.to_jwk(leaked_private, as_dict=True)
    jwks.keys = [{"kty": "oct", "kid": "shared", "k": b64url(b"s" * 32)},
                 {**private_jwk, "kid": leaked.kid}, jwk(published)]  # fmt: skip
    authenticator = jwks_authenticator(jwks.url, is_known_agency, http)
    oct_signed = SigningKey(kid="shared", algorithm="EdDSA", private_key=published.private_key)
    for key in (oct_signed, leaked):
        error = await refusal(authenticator, bearer(issue_token(key, agency="TH-CA")))
        assert error.reason == "unknown_key"
    assert await authenticator.authenticate(bearer(issue_token(published, agency="TH-CA")))


# -- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(("algorithm", "says"), [("HS256", "HMAC"), ("none", "unsigned")])
def test_the_configuration_refuses_symmetric_and_unsigned_algorithms(
    key: SigningKey, algorithm: str, says: str
) -> None:
    with pytest.raises(ValueError, match=f"{algorithm!r}, which is .*{says}.*only asymmetric"):
        pem_config(key, algorithms=("EdDSA", algorithm))


def test_the_configuration_refuses_unknown_algorithms_and_an_empty_list(key: SigningKey) -> None:
    with pytest.raises(ValueError, match="'EdDSA25519', which is not a signature algorithm"):
        pem_config(key, algorithms=("EdDSA25519",))
    with pytest.raises(ValueError, match="algorithms is empty"):
        pem_config(key, algorithms=())


def test_the_configuration_needs_keys_or_a_jwks_url() -> None:
    with pytest.raises(ValueError, match="no keys to verify tokens with"):
        IdentityConfig(issuer=DEV_ISSUER, audience=DEV_AUDIENCE)
    with pytest.raises(ValueError, match="is not an http\\(s\\) URL"):
        IdentityConfig(issuer=DEV_ISSUER, audience=DEV_AUDIENCE, jwks_url="file:///etc/jwks")


def test_the_configuration_refuses_private_keys_and_keys_for_other_algorithms(
    key: SigningKey,
) -> None:
    private_pem = key.private_key.private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
    ).decode("ascii")
    with pytest.raises(ValueError, match="that is a private key: give its public half"):
        IdentityConfig(issuer=DEV_ISSUER, audience=DEV_AUDIENCE, public_keys={"k": private_pem})
    with pytest.raises(ValueError, match="signs with EdDSA, none of which is in algorithms"):
        pem_config(key, algorithms=("RS256",))
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (to be refused)
    short = weak.public_key()
    short_pem = short.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    with pytest.raises(ValueError, match="1024 bits is too short"):
        IdentityConfig(issuer=DEV_ISSUER, audience=DEV_AUDIENCE, algorithms=("RS256",),
                       public_keys={"old": short_pem})  # fmt: skip


def test_the_configuration_cannot_be_changed_after_construction(key: SigningKey) -> None:
    config = pem_config(key)
    with pytest.raises(TypeError):
        config.public_keys["evil"] = "-----BEGIN PUBLIC KEY-----"  # type: ignore[index]


# -- the HTTP answer ---------------------------------------------------------------------------


async def test_a_refused_token_gets_401_json_errors_and_an_invalid_token_challenge(
    authenticator: Authenticator, key: SigningKey
) -> None:
    expired = issue_token(key, agency="TH-CA", now=int(time.time()) - 7200)
    response = error_response(await refusal(authenticator, bearer(expired)))
    assert response.status_code == 401
    body = json.loads(bytes(response.body))
    assert body == {
        "errors": [
            {
                "message": "The token has expired; ask your token issuer for a new one.",
                "extensions": {"code": "UNAUTHENTICATED", "reason": "expired"},
            }
        ]
    }
    assert response.headers["www-authenticate"] == (
        'Bearer realm="govgate", error="invalid_token", '
        'error_description="The token has expired; ask your token issuer for a new one."'
    )


async def test_quotes_in_a_message_never_break_the_challenge_header(
    authenticator: Authenticator, key: SigningKey
) -> None:
    error = await refusal(authenticator, bearer(issue_token(key, agency="TH-CA", audience="x")))
    challenge = error_response(error).headers["www-authenticate"]
    description = challenge.split('error_description="', 1)[1]
    assert description.endswith('"')
    assert '"' not in description[:-1]
    assert "\\" not in description


async def test_a_missing_token_gets_the_bare_bearer_challenge(
    authenticator: Authenticator,
) -> None:
    response = error_response(await refusal(authenticator, None))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="govgate"'
    assert json.loads(bytes(response.body))["errors"][0]["extensions"]["reason"] == "missing_token"


async def test_unavailable_keys_get_503_and_a_time_to_retry(
    http: httpx.AsyncClient, is_known_agency: KnownAgency
) -> None:
    authenticator = jwks_authenticator(free_port_url(), is_known_agency, http)
    error = await refusal(authenticator, bearer(issue_token(ed25519_key(), agency="TH-CA")))
    response = error_response(error)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    assert response.headers["www-authenticate"] == 'Bearer realm="govgate"'
    assert json.loads(bytes(response.body))["errors"][0]["extensions"] == {
        "code": "UNAUTHENTICATED",
        "reason": "keys_unavailable",
    }


async def test_an_app_answers_refused_requests_over_http_with_the_response(
    authenticator: Authenticator, key: SigningKey
) -> None:
    async def whoami(request: Request) -> Response:
        try:
            identity = await authenticator.authenticate(request.headers.get("authorization"))
        except AuthenticationError as error:
            return error_response(error)
        return JSONResponse({"agency": identity.agency})

    app = Starlette(routes=[Route("/whoami", whoami)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        ok = await client.get("/whoami", headers={"Authorization": bearer(
            issue_token(key, agency="HZ-HRSS"))})  # fmt: skip
        refused = await client.get("/whoami", headers={"Authorization": "Bearer a.b.c"})
    assert ok.json() == {"agency": "HZ-HRSS"}
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["extensions"]["reason"] == "malformed_token"
    assert refused.headers["www-authenticate"].startswith('Bearer realm="govgate", error=')
