"""How tokens are verified: `IdentityConfig`, validated at construction, and its defaults."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from gateway.identity.keys import ASYMMETRIC_ALGORITHMS, pem_keys
from gateway.identity.token_cache import DEFAULT_TOKEN_CACHE_SIZE

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "DEFAULT_MAX_LIFETIME",
    "MAX_JTI_LENGTH",
    "MAX_TOKEN_LENGTH",
    "OFFICER_ID",
    "REQUIRED_CLAIMS",
    "SAFE_TEXT",
    "IdentityConfig",
]

#: Longer than any token an issuer hands out; refused before any parsing.
MAX_TOKEN_LENGTH = 8192
#: The longest token id (`jti`) a revocation can name: a longer one could never be revoked.
MAX_JTI_LENGTH = 255
#: Claims every token must carry; `jti` too unless the deployment waives it (`require_jti`).
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub")
#: The longest lifetime (`exp - iat`) accepted unless configured: a working day and night.
DEFAULT_MAX_LIFETIME = 86_400
#: Text short and plain enough to repeat in a message or a log.
SAFE_TEXT = re.compile(r"[A-Za-z0-9._:@/+=-]{1,64}")
#: What an officer id in `act.sub` may look like: plain text that reports and logs can print.
OFFICER_ID = SAFE_TEXT


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
    #: How many verified tokens a process remembers until they expire (0: none; every request
    #: then checks its token's signature). gateway.identity.token_cache says what is re-checked.
    token_cache_size: int = DEFAULT_TOKEN_CACHE_SIZE

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
        if self.token_cache_size < 0:
            raise ValueError(
                f"IdentityConfig.token_cache_size must be 0 (remember no token) or more, not "
                f"{self.token_cache_size}."
            )
        if self.leeway_seconds < 0 or self.jwks_refresh_interval < 0 or self.jwks_max_age < 0:
            raise ValueError(
                "IdentityConfig.leeway_seconds, jwks_refresh_interval and jwks_max_age are "
                "durations in seconds and cannot be negative."
            )
        pem_keys(
            self.public_keys, self.algorithms
        )  # refuse unusable PEM now, not at the first request
