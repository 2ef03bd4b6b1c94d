"""Who is calling: verify the bearer JWT and return the agency it names.

The token names the agency only (`sub`, its catalogue code); its duties and division come from
the sharing catalogue, never from the token. Only asymmetric signatures are accepted (EdDSA by
default; RSA and ECDSA by configuration): never `alg: none`, never an HMAC, so a public key can
never be used as a shared secret (gateway.identity.keys). Keys come from PEM text or a JWKS URL
(gateway.identity.jwks).

A token may also name the acting officer in RFC 8693's `act` claim (`{"act": {"sub": "<officer
id>"}}`, Art. 29, 34): `authenticate` returns both as an `Identity`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import jwt

from gateway.errors import AuthenticationError, AuthenticationReason
from gateway.identity.config import (
    MAX_JTI_LENGTH,
    MAX_TOKEN_LENGTH,
    OFFICER_ID,
    REQUIRED_CLAIMS,
    SAFE_TEXT,
)
from gateway.identity.jwks import Jwks
from gateway.identity.keys import pem_keys
from gateway.identity.token_cache import TokenCache, Verified, token_digest

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx

    from gateway.identity.config import IdentityConfig
    from gateway.identity.keys import VerifyingKey

__all__ = ["Authenticator", "Identity"]

_CLAIM_MEANING = {
    "exp": "its expiry time",
    "iat": "when it was issued",
    "jti": "its unique id, by which it can be revoked",
    "iss": "who issued it",
    "aud": "which service it is for",
    "sub": "the agency it is issued to",
}
#: Any whitespace (str.isspace's characters: the regular expression module uses the same test).
_SPACE = re.compile(r"\s")


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a verified token says is calling: the agency, and the acting officer if named."""

    agency: str
    #: The token's `act.sub` (RFC 8693): the person acting for the agency (Art. 29, 34).
    officer: str | None = None


def _safe(text: object) -> str | None:
    """`text` quoted, if it is short and plain enough to repeat in a message; else None."""
    if isinstance(text, str) and SAFE_TEXT.fullmatch(text):
        return repr(text)
    return None


def _refuse(reason: AuthenticationReason, message: str) -> NoReturn:
    raise AuthenticationError(reason, message)


class Authenticator:
    """Turns an `Authorization` header into the calling agency's code, or refuses it.

    `is_known_agency` answers whether a code is in the sharing catalogue; `is_revoked` whether
    a token id (`jti`) was revoked (gateway.identity.revocation). `http` is the client the JWKS is
    fetched with; without one, each fetch opens and closes its own.

    A token that passed every check is remembered until its `exp` (gateway.identity.token_cache,
    `config.token_cache_size` of them); a repeated token is then answered after re-checking
    only what can change while it lives: revocation, its key and its agency.
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
        self._pem = pem_keys(config.public_keys, config.algorithms)
        self._jwks = Jwks(config, http)
        #: Tokens that passed every check, by digest, until they expire.
        self.verified: TokenCache[Identity, VerifyingKey] = TokenCache(config.token_cache_size)

    async def authenticate(self, authorization: str | None) -> Identity:
        """The agency (`sub`) and officer (`act.sub`) of a valid bearer token; raises
        AuthenticationError."""
        token = _bearer_token(authorization)
        digest = token_digest(token)
        now = time.time()
        known = self.verified.get(digest, now)
        if known is not None:
            if self._still_good(known):
                return known.identity
            # Revoked, re-keyed or its agency gone: the full check refuses it in its own words
            # (or, after a JWKS refresh that kept its key, accepts it again).
            self.verified.drop(digest)
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
        identity = Identity(agency, _officer(claims))
        jti = claims.get("jti")
        verified = Verified(identity, claims["exp"], jti, header.get("kid"), key)
        self.verified.put(digest, verified, now)
        return identity

    def _still_good(self, known: Verified[Identity, VerifyingKey]) -> bool:
        """Whether a remembered token would pass the full check today: not revoked, its key
        still the one that verified it (and the JWKS it came from fresh enough), its agency
        still in the catalogue. Its expiry the cache itself checks."""
        if known.jti is not None and self._is_revoked is not None and self._is_revoked(known.jti):
            return False
        key = self._lookup(known.kid)
        if key is not known.key:
            return False
        if self._pem.get(key.kid) is not key and self._jwks.too_old():
            return False
        return self._is_known_agency(known.identity.agency)

    def _verified_claims(self, token: str, key: VerifyingKey, algorithm: str) -> dict[str, Any]:
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
        if jti is not None and not (isinstance(jti, str) and 1 <= len(jti) <= MAX_JTI_LENGTH):
            # A token id the revocation store cannot hold could never be revoked (docs/security.md).
            _refuse(
                "malformed_token",
                f"The token's jti is not 1 to {MAX_JTI_LENGTH} characters, so it could not be "
                "revoked; ask your token issuer for a token with an ordinary jti.",
            )
        if jti is not None and self._is_revoked is not None and self._is_revoked(jti):
            _refuse(
                "revoked",
                "The token was revoked by the gateway's operator; ask your token issuer for a "
                "new one.",
            )

    async def _key_for(self, kid: object) -> VerifyingKey:
        """The key for a token's kid, fetching the JWKS when it is missing or too old."""
        key = self._lookup(kid)
        if key is not None and (self._pem.get(key.kid) is key or not self._jwks.too_old()):
            return key
        if self.config.jwks_url is not None:
            # One fetch at a time; whoever waited finds the fresh keys (or the interval guard).
            async with self._jwks.lock:
                key = self._lookup(kid)
                if key is None or self._jwks.too_old():
                    await self._jwks.refresh()
                    key = self._lookup(kid)
            if key is None and self._jwks.failed:
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

    def _lookup(self, kid: object) -> VerifyingKey | None:
        if isinstance(kid, str) and kid:
            return self._pem.get(kid) or self._jwks.keys.get(kid)
        if "" in self._pem:
            return self._pem[""]
        every = {**self._jwks.keys, **self._pem}
        return next(iter(every.values())) if len(every) == 1 else None


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
    if scheme.lower() != "bearer" or not token or _SPACE.search(token):
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
