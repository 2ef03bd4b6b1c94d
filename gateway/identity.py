"""Who is calling: verify the bearer JWT and return the agency it names.

The token names the agency only (`sub`, its catalogue code); its duties and division come from
the sharing catalogue, never from the token. Only asymmetric signatures are accepted (EdDSA by
default; RSA and ECDSA by configuration): never `alg: none`, never an HMAC, so a public key can
never be used as a shared secret. Keys come from PEM text or a JWKS URL; the JWKS is fetched
with httpx without blocking the event loop, cached by `kid`, and fetched again when a token names
a key the cache lacks (at most once per `jwks_refresh_interval`, one fetch for all waiting
requests) or when the cache is older than `jwks_max_age`.

A token may also name the acting officer in RFC 8693's `act` claim (`{"act": {"sub": "<officer
id>"}}`, Art. 29, 34): `authenticate` returns both as an `Identity`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NoReturn

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from gateway.errors import AuthenticationError, AuthenticationReason

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from jwt.algorithms import AllowedPublicKeys

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "AuthenticationError",
    "AuthenticationReason",
    "Authenticator",
    "Identity",
    "IdentityConfig",
]

#: The signature algorithms a gateway may be configured to accept.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
JWKS_TIMEOUT_SECONDS = 5.0
#: Longer than any token an issuer hands out; refused before any parsing.
MAX_TOKEN_LENGTH = 8192
#: Claims every token must carry; `jti` too unless the deployment waives it (`require_jti`).
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub")
#: The longest lifetime (`exp - iat`) accepted unless configured: a working day and night.
DEFAULT_MAX_LIFETIME = 86_400
_CLAIM_MEANING = {
    "exp": "its expiry time",
    "iat": "when it was issued",
    "jti": "its unique id, by which it can be revoked",
    "iss": "who issued it",
    "aud": "which service it is for",
    "sub": "the agency it is issued to",
}
_RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
_MIN_RSA_BITS = 2048
_SAFE_TEXT = re.compile(r"[A-Za-z0-9._:@/+=-]{1,64}")
#: What an officer id in `act.sub` may look like: plain text that reports and logs can print.
OFFICER_ID = _SAFE_TEXT

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class IdentityConfig:
    """How tokens are verified. Validated at construction (ValueError with a sentence).

    `public_keys` maps a key id (`kid`) to PEM public key text; a key with kid "" (or the only
    key) verifies tokens without a kid. `jwks_url` names a JWKS document; at least one of the
    two is required. `jwks_refresh_interval` is the least time in seconds between fetches that
    an unknown kid triggers; `jwks_max_age` is how old the cached JWKS may get before it is
    fetched again (so a key withdrawn from the JWKS stops verifying).
    """

    issuer: str
    audience: str
    algorithms: tuple[str, ...] = ("EdDSA",)
    public_keys: Mapping[str, str] = field(default_factory=dict)
    jwks_url: str | None = None
    leeway_seconds: int = 30
    jwks_refresh_interval: float = 30.0
    jwks_max_age: float = 300.0
    #: The longest lifetime (`exp - iat`, seconds) a token may have; longer ones are refused.
    max_lifetime_seconds: int = DEFAULT_MAX_LIFETIME
    #: Whether tokens must carry a `jti` (revocation by `govgate token revoke` needs one).
    require_jti: bool = True

    def __post_init__(self) -> None:
        if not self.issuer or not self.audience:
            raise ValueError(
                "IdentityConfig needs a non-empty issuer and audience: the iss and aud that "
                "accepted tokens must carry."
            )
        algorithms = tuple(self.algorithms)
        if not algorithms:
            raise ValueError("IdentityConfig.algorithms is empty; name at least one, e.g. EdDSA.")
        for name in algorithms:
            if name.upper().startswith("HS") or name.lower() == "none":
                raise ValueError(
                    f"IdentityConfig.algorithms names {name!r}, which is "
                    + ("unsigned" if name.lower() == "none" else "a shared-secret HMAC")
                    + "; only asymmetric signatures are accepted: "
                    + f"{', '.join(sorted(ASYMMETRIC_ALGORITHMS))}."
                )
            if name not in ASYMMETRIC_ALGORITHMS:
                raise ValueError(
                    f"IdentityConfig.algorithms names {name!r}, which is not a signature "
                    f"algorithm the gateway knows; use one of "
                    f"{', '.join(sorted(ASYMMETRIC_ALGORITHMS))}."
                )
        object.__setattr__(self, "algorithms", algorithms)
        object.__setattr__(self, "public_keys", MappingProxyType(dict(self.public_keys)))
        if not self.public_keys and not self.jwks_url:
            raise ValueError(
                "IdentityConfig has no keys to verify tokens with; give public_keys "
                "(kid -> PEM) or a jwks_url."
            )
        if self.jwks_url is not None and not self.jwks_url.startswith(("https://", "http://")):
            raise ValueError(
                f"IdentityConfig.jwks_url {self.jwks_url!r} is not an http(s) URL; give the "
                "address of the issuer's JWKS document."
            )
        if self.max_lifetime_seconds < 1:
            raise ValueError(
                "IdentityConfig.max_lifetime_seconds must be at least 1: the longest lifetime "
                "(exp - iat) of an accepted token, in seconds."
            )
        if self.leeway_seconds < 0 or self.jwks_refresh_interval < 0 or self.jwks_max_age < 0:
            raise ValueError(
                "IdentityConfig.leeway_seconds, jwks_refresh_interval and jwks_max_age are "
                "durations in seconds and cannot be negative."
            )
        _pem_keys(self)  # refuse unusable PEM now, not at the first request


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a verified token says is calling: the agency, and the acting officer if named."""

    agency: str
    #: The token's `act.sub` (RFC 8693): the person acting for the agency (Art. 29, 34).
    officer: str | None = None


@dataclass(frozen=True, slots=True)
class _Key:
    kid: str
    public_key: AllowedPublicKeys
    algorithms: frozenset[str]


def _verifier(public_key: object) -> tuple[AllowedPublicKeys, frozenset[str]]:
    """The key and the algorithms it signs with; ValueError for keys the gateway refuses."""
    if isinstance(public_key, Ed25519PublicKey | Ed448PublicKey):
        return public_key, frozenset({"EdDSA"})
    if isinstance(public_key, RSAPublicKey):
        if public_key.key_size < _MIN_RSA_BITS:
            raise ValueError(
                f"an RSA key of {public_key.key_size} bits is too short (at least "
                f"{_MIN_RSA_BITS} bits)"
            )
        return public_key, _RSA_ALGORITHMS
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if public_key.curve.name not in _EC_ALGORITHMS:
            raise ValueError(f"the elliptic curve {public_key.curve.name} is not supported")
        return public_key, frozenset({_EC_ALGORITHMS[public_key.curve.name]})
    raise ValueError(f"a {type(public_key).__name__} cannot verify JWT signatures")


def _pem_keys(config: IdentityConfig) -> dict[str, _Key]:
    keys = {}
    for kid, pem in config.public_keys.items():
        try:
            public_key = load_pem_public_key(pem.encode("utf-8"))
        except (ValueError, TypeError):
            hint = " (that is a private key: give its public half)" if "PRIVATE" in pem else ""
            raise ValueError(
                f"IdentityConfig.public_keys[{kid!r}] is not a PEM public key{hint}; give the "
                "text of a '-----BEGIN PUBLIC KEY-----' block."
            ) from None
        try:
            verifier, signs_with = _verifier(public_key)
        except ValueError as error:
            raise ValueError(
                f"IdentityConfig.public_keys[{kid!r}] is refused: {error}; give another key."
            ) from None
        usable = signs_with & set(config.algorithms)
        if not usable:
            raise ValueError(
                f"IdentityConfig.public_keys[{kid!r}] signs with {', '.join(sorted(signs_with))},"
                f" none of which is in algorithms ({', '.join(config.algorithms)}); add one to "
                "algorithms."
            )
        keys[kid] = _Key(kid, verifier, usable)
    return keys


def _jwks_keys(document: object, algorithms: tuple[str, ...]) -> dict[str, _Key]:
    """The usable signing keys of a JWKS document, by kid (a key without kid under "")."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("the document is not a JWKS (a JSON object with a 'keys' list)")
    keys: dict[str, _Key] = {}
    readers: dict[str, Any] = {"OKP": OKPAlgorithm, "RSA": RSAAlgorithm, "EC": ECAlgorithm}
    for entry in document["keys"]:
        # Never "oct" (a shared secret), never private keys, never encryption keys.
        if not isinstance(entry, dict) or entry.get("kty") not in readers or "d" in entry:
            continue
        if entry.get("use", "sig") != "sig":
            continue
        kid = entry.get("kid", "")
        if not isinstance(kid, str) or kid in keys:
            continue
        try:
            verifier, signs_with = _verifier(readers[entry["kty"]].from_jwk(entry))
        except (ValueError, TypeError, KeyError, jwt.PyJWTError) as error:
            logger.warning("JWKS key %r skipped: %s", kid, error)
            continue
        usable = signs_with & set(algorithms)
        if isinstance(entry.get("alg"), str):
            usable &= {entry["alg"]}
        if usable:
            keys[kid] = _Key(kid, verifier, usable)
    if not keys:
        raise ValueError(f"the JWKS has no signing key for {', '.join(algorithms)}")
    return keys


def _safe(text: object) -> str | None:
    """`text` quoted, if it is short and plain enough to repeat in a message; else None."""
    if isinstance(text, str) and _SAFE_TEXT.fullmatch(text):
        return repr(text)
    return None


def _refuse(reason: AuthenticationReason, message: str) -> NoReturn:
    raise AuthenticationError(reason, message)


class Authenticator:
    """Turns an `Authorization` header into the calling agency's code, or refuses it.

    `is_known_agency` answers whether a code is in the sharing catalogue; `is_revoked` whether
    a token id (`jti`) was revoked (gateway.revocation). `http` is the client the JWKS is
    fetched with; without one, each fetch opens and closes its own.
    """

    def __init__(
        self,
        config: IdentityConfig,
        *,
        is_known_agency: Callable[[str], bool],
        is_revoked: Callable[[str], bool] | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.config = config
        self._is_known_agency = is_known_agency
        self._is_revoked = is_revoked
        self._required = (*REQUIRED_CLAIMS, "jti") if config.require_jti else REQUIRED_CLAIMS
        self._http = http
        self._pem = _pem_keys(config)
        self._jwks: dict[str, _Key] = {}
        self._jwks_loaded_at: float | None = None
        self._jwks_attempted_at: float | None = None
        self._jwks_failed = False
        self._jwks_lock = asyncio.Lock()

    async def authenticate(self, authorization: str | None) -> Identity:
        """The agency (`sub`) and officer (`act.sub`) of a valid bearer token; raises
        AuthenticationError."""
        token = _bearer_token(authorization)
        header = _unverified_header(token)
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or not algorithm:
            _refuse(
                "malformed_token",
                "The token's header names no signing algorithm (alg); send the token exactly "
                "as your issuer made it.",
            )
        accepted = ", ".join(self.config.algorithms)
        if algorithm.lower() == "none":
            _refuse(
                "unsigned_token",
                f"The token is unsigned (alg 'none'); this gateway accepts only tokens signed "
                f"with {accepted}. Ask your token issuer for a signed token.",
            )
        if algorithm not in self.config.algorithms:
            why = " (shared-secret HMAC signatures are never accepted)"
            _refuse(
                "algorithm_not_allowed",
                f"The token is signed with {_safe(algorithm) or 'an algorithm'}"
                f"{why if algorithm.upper().startswith('HS') else ''}, which this gateway does "
                f"not accept; it accepts {accepted}. Ask your token issuer for such a token.",
            )
        key = await self._key_for(header.get("kid"))
        if algorithm not in key.algorithms:
            _refuse(
                "algorithm_not_allowed",
                f"The token says it is signed with {algorithm}, but its key signs with "
                f"{', '.join(sorted(key.algorithms))}; ask your token issuer for a new token.",
            )
        claims = self._verified_claims(token, key, algorithm)
        self._check_bounds(claims)
        agency: str = claims["sub"]
        if not self._is_known_agency(agency):
            _refuse(
                "unknown_agency",
                f"The token is issued to {_safe(agency) or 'an agency'}, which is not in the "
                "sharing catalogue; ask for a token issued to your agency's catalogue code.",
            )
        return Identity(agency, _officer(claims))

    def _verified_claims(self, token: str, key: _Key, algorithm: str) -> dict[str, Any]:
        config = self.config
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.public_key,
                algorithms=[algorithm],
                audience=config.audience,
                issuer=config.issuer,
                leeway=config.leeway_seconds,
                options={"require": list(self._required), "enforce_minimum_key_length": True},
            )
        except jwt.InvalidSignatureError:
            _refuse(
                "bad_signature",
                "The token's signature does not match its contents: it was changed, or signed "
                "with another key. Ask your token issuer for a new token.",
            )
        except jwt.MissingRequiredClaimError as error:
            _refuse(
                "missing_claim",
                f"The token has no {error.claim} claim ({_CLAIM_MEANING[error.claim]}); ask "
                f"your token issuer for a token with {', '.join(self._required)}.",
            )
        except jwt.ExpiredSignatureError:
            _refuse("expired", "The token has expired; ask your token issuer for a new one.")
        except jwt.ImmatureSignatureError:
            _refuse(
                "not_yet_valid",
                "The token is not valid yet (its nbf or iat lies in the future); check the "
                "issuing machine's clock, or wait and try again.",
            )
        except jwt.InvalidIssuerError:
            _refuse(
                "wrong_issuer",
                f"The token's issuer (iss) is not the one this gateway trusts; it accepts "
                f"tokens issued by {config.issuer!r}. Ask that issuer for a token.",
            )
        except jwt.InvalidAudienceError:
            _refuse(
                "wrong_audience",
                f"The token's audience (aud) is another service; this gateway accepts tokens "
                f"for {config.audience!r}. Ask for a token meant for it.",
            )
        except (jwt.InvalidAlgorithmError, jwt.InvalidKeyError):
            _refuse(
                "algorithm_not_allowed",
                f"The token's algorithm does not fit its key; this gateway accepts "
                f"{', '.join(config.algorithms)}. Ask your token issuer for a new token.",
            )
        except jwt.InvalidTokenError:
            _refuse(
                "malformed_token",
                "The token's claims are malformed (exp, nbf and iat must be numbers; iss, sub "
                "and jti strings); ask your token issuer for a new token.",
            )
        # RFC 7519 NumericDate: pyjwt also takes numeric strings; a strict issuer never sends them.
        for name in ("exp", "nbf", "iat"):
            value = claims.get(name)
            if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
                _refuse(
                    "malformed_token",
                    f"The token's {name} claim is not a number of seconds; ask your token "
                    "issuer for a new token.",
                )
        return claims

    def _check_bounds(self, claims: dict[str, Any]) -> None:
        """Refuse a token that lives too long, or that was revoked (by its `jti`)."""
        limit = self.config.max_lifetime_seconds
        # Art. 28: a stolen token must stop working on its own, soon; an issuer-set `exp` of
        # ten years (or 2^62) ahead would make it a password that never changes.
        if claims["exp"] - claims["iat"] > limit:
            _refuse(
                "lifetime_too_long",
                f"The token lives {_duration(claims['exp'] - claims['iat'])} (exp - iat); this "
                f"gateway accepts tokens that live at most {_duration(limit)}. Ask your token "
                "issuer for a shorter-lived token.",
            )
        jti = claims.get("jti")
        if jti is not None and self._is_revoked is not None and self._is_revoked(jti):
            _refuse(
                "revoked",
                "The token was revoked by the gateway's operator; ask your token issuer for a "
                "new one.",
            )

    async def _key_for(self, kid: object) -> _Key:
        """The key for a token's kid, fetching the JWKS when it is missing or too old."""
        key = self._lookup(kid)
        if key is not None and (self._pem.get(key.kid) is key or not self._jwks_too_old()):
            return key
        if self.config.jwks_url is not None:
            # One fetch at a time; whoever waited finds the fresh keys (or the interval guard).
            async with self._jwks_lock:
                key = self._lookup(kid)
                if key is None or self._jwks_too_old():
                    await self._maybe_fetch_jwks()
                    key = self._lookup(kid)
            if key is None and self._jwks_failed:
                _refuse(
                    "keys_unavailable",
                    "The gateway cannot load its token-signing keys right now, so it cannot "
                    "check your token; try again in a minute, and tell the gateway operator "
                    "if this persists.",
                )
        if key is None:
            named = f"signing key {_safe(kid) or '(unprintable kid)'}" if kid else "no key id"
            _refuse(
                "unknown_key",
                f"The token names {named}, which this gateway does not know; ask your token "
                "issuer for a token signed with a current key.",
            )
        return key

    def _lookup(self, kid: object) -> _Key | None:
        if isinstance(kid, str) and kid:
            return self._pem.get(kid) or self._jwks.get(kid)
        if "" in self._pem:
            return self._pem[""]
        every = {**self._jwks, **self._pem}
        return next(iter(every.values())) if len(every) == 1 else None

    def _jwks_too_old(self) -> bool:
        loaded = self._jwks_loaded_at
        return loaded is not None and time.monotonic() - loaded > self.config.jwks_max_age

    async def _maybe_fetch_jwks(self) -> None:
        # An unknown kid may refetch once per refresh interval; a cache past its age always may.
        pause = min(self.config.jwks_refresh_interval, self.config.jwks_max_age)
        attempted = self._jwks_attempted_at
        if attempted is not None and time.monotonic() - attempted < pause:
            return
        url = self.config.jwks_url or ""
        try:
            if self._http is None:
                async with httpx.AsyncClient(timeout=JWKS_TIMEOUT_SECONDS) as client:
                    response = await client.get(url)
            else:
                response = await self._http.get(url, timeout=JWKS_TIMEOUT_SECONDS)
            response.raise_for_status()
            keys = _jwks_keys(response.json(), self.config.algorithms)
        except (httpx.HTTPError, ValueError) as error:
            # Keep the keys we had: a JWKS outage must not lock out tokens signed with them.
            logger.warning("Cannot fetch the JWKS from %s: %s", url, error)
            self._jwks_failed = True
        else:
            self._jwks = keys
            self._jwks_loaded_at = time.monotonic()
            self._jwks_failed = False
        self._jwks_attempted_at = time.monotonic()


def _duration(seconds: float) -> str:
    """`seconds` in the largest whole unit that fits: 36 h, 90 min, 45 s."""
    seconds = int(seconds)
    if seconds >= 7200:
        return f"{seconds // 3600:,} h"
    if seconds >= 120:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def _officer(claims: dict[str, Any]) -> str | None:
    """The acting officer of RFC 8693's `act` claim (its `sub`), or None when there is none.

    A nested `act` (a delegation chain) names earlier actors; the outermost is the one acting.
    """
    if "act" not in claims:
        return None
    act = claims["act"]
    officer = act.get("sub") if isinstance(act, dict) else None
    if not isinstance(officer, str) or not OFFICER_ID.fullmatch(officer):
        _refuse(
            "malformed_token",
            "The token's act claim must be an object whose sub names the acting officer in 1 to "
            "64 letters, digits or . _ : @ / + = - (RFC 8693); ask your token issuer for a new "
            "token.",
        )
    return officer


def _bearer_token(authorization: str | None) -> str:
    if authorization is None or not authorization.strip():
        _refuse(
            "missing_token",
            "The request has no bearer token; send the header 'Authorization: Bearer <token>' "
            "with a token issued to your agency.",
        )
    scheme, _, rest = authorization.strip().partition(" ")
    token = rest.strip()
    if scheme.lower() != "bearer" or not token or any(c.isspace() for c in token):
        _refuse(
            "malformed_header",
            "The Authorization header is not 'Bearer <token>'; send the word Bearer, one space "
            "and the token, and nothing else.",
        )
    if len(token) > MAX_TOKEN_LENGTH:
        _refuse(
            "malformed_token",
            f"The bearer token is longer than {MAX_TOKEN_LENGTH} characters, so it is not one "
            "this gateway issued or accepts; send the token exactly as your issuer made it.",
        )
    return token


def _unverified_header(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        _refuse(
            "malformed_token",
            "The bearer token is not a well-formed JWT (three base64url parts: a JSON header, "
            "JSON claims and a signature); send the token exactly as your issuer made it.",
        )
