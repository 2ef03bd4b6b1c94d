"""The issuer's JWKS: fetched with httpx without blocking the event loop, cached by `kid`.

It is fetched again when a token names a key the cache lacks (at most once per
`jwks_refresh_interval`, one fetch for all waiting requests: the Authenticator holds `lock`) or
when the cache is older than `jwks_max_age` (so a key withdrawn from the JWKS stops verifying).
An outage keeps the keys already fetched. httpx is imported only when a JWKS is configured: it
loads click for its own command line, which a server without a JWKS never needs.

Why not pyjwt's PyJWKClient: it fetches with urllib, blocking, so every fetch would need a
thread, and its cache cannot tell "no such kid" from "the JWKS is down" (docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from gateway.identity.keys import jwks_keys

if TYPE_CHECKING:
    import httpx

    from gateway.identity.config import IdentityConfig
    from gateway.identity.keys import VerifyingKey

__all__ = ["JWKS_TIMEOUT_SECONDS", "Jwks"]

JWKS_TIMEOUT_SECONDS = 5.0

logger = logging.getLogger("gateway.identity")


class Jwks:
    """The signing keys of `config.jwks_url`, by kid. `http` is the client the JWKS is fetched
    with; without one, each fetch opens and closes its own."""

    def __init__(self, config: IdentityConfig, http: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._http = http
        self.keys: dict[str, VerifyingKey] = {}
        #: Whether the last fetch failed (the keys are then those of the one before).
        self.failed = False
        #: Held by whoever fetches, so waiting requests share one fetch.
        self.lock = asyncio.Lock()
        self._loaded_at: float | None = None
        self._attempted_at: float | None = None

    def too_old(self) -> bool:
        """Whether the cached keys are older than `jwks_max_age`."""
        loaded = self._loaded_at
        return loaded is not None and time.monotonic() - loaded > self.config.jwks_max_age

    async def refresh(self) -> None:
        """Fetch the JWKS, unless it was tried within the refresh interval."""
        import httpx  # noqa: PLC0415 (only a deployment with a JWKS needs httpx: docstring)

        # An unknown kid may refetch once per refresh interval; a cache past its age always may.
        pause = min(self.config.jwks_refresh_interval, self.config.jwks_max_age)
        attempted = self._attempted_at
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
            keys = jwks_keys(response.json(), self.config.algorithms)
        except (httpx.HTTPError, ValueError) as error:
            # Keep the keys we had: a JWKS outage must not lock out tokens signed with them.
            logger.warning("Cannot fetch the JWKS from %s: %s", url, error)
            self.failed = True
        else:
            self.keys = keys
            self._loaded_at = time.monotonic()
            self.failed = False
        self._attempted_at = time.monotonic()
