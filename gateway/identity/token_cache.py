"""Tokens already verified, kept until they expire, so a repeated token costs no signature check.

An agency's application sends the same bearer token with every request until it expires; its
Ed25519 (or RSA, ECDSA) check and the claim checks give the same answer each time, and cost more
than the rest of a small request's gateway work. `TokenCache` remembers, per token, what the
full check concluded (`Verified`): the identity, `exp`, the `jti` and the very key object that
verified it. The `Authenticator` answers from it only after re-checking on every request what
can change while a token lives (docs/security.md, "Verified tokens"):

- the clock: an entry is dropped at the token's `exp` (the full check, with its leeway, then
  decides, as it would have without a cache);
- revocation: the `jti` is looked up in the revocation set on every request;
- keys: the key the token names must still be the same key object (a JWKS refresh builds new
  ones, so every entry from before a refresh or rotation goes through the full check again);
- the catalogue: the agency must still be in the policy served.

Entries are keyed by the SHA-256 of the token, so the cache holds no bearer credential that a
memory dump could replay; it is bounded (least recently used out first) and per process.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["DEFAULT_TOKEN_CACHE_SIZE", "TokenCache", "Verified", "token_digest"]

#: Tokens remembered per process unless configured: a few hundred bytes each.
DEFAULT_TOKEN_CACHE_SIZE = 10_000


#: The identity and the key types (the authenticator's `Identity` and `VerifyingKey`: named
#: by the authenticator, which imports this module, not the other way round).
IdentityT = TypeVar("IdentityT")
KeyT = TypeVar("KeyT")


@dataclass(frozen=True, slots=True)
class Verified(Generic[IdentityT, KeyT]):
    """What the full check of one token concluded."""

    identity: IdentityT
    #: The token's `exp` (seconds since the epoch): the entry is not used from then on.
    expires: float
    jti: str | None
    #: The header's `kid` as sent, to find the key the token names today.
    kid: object
    #: The key object that verified the signature.
    key: KeyT


def token_digest(token: str) -> bytes:
    """The cache key of a token: its SHA-256, never the token itself."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


class TokenCache(Generic[IdentityT, KeyT]):
    """At most `size` verified tokens by digest, least recently used out first; 0 keeps none."""

    def __init__(self, size: int = DEFAULT_TOKEN_CACHE_SIZE) -> None:
        if size < 0:
            raise ValueError(f"The token cache size must be 0 or more, not {size}.")
        self.size = size
        self._entries: OrderedDict[bytes, Verified[IdentityT, KeyT]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, digest: bytes, now: float) -> Verified[IdentityT, KeyT] | None:
        """The entry for `digest` if it is there and its token has not expired at `now`."""
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if now >= entry.expires:
            del self._entries[digest]
            return None
        self._entries.move_to_end(digest)
        return entry

    def put(self, digest: bytes, entry: Verified[IdentityT, KeyT], now: float) -> None:
        """Remember `entry` unless its token expires by `now` or the cache keeps none."""
        if self.size == 0 or now >= entry.expires:
            return
        self._entries[digest] = entry
        self._entries.move_to_end(digest)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def drop(self, digest: bytes) -> None:
        """Forget `digest` (its next request goes through the full check)."""
        self._entries.pop(digest, None)

    def clear(self) -> None:
        """Forget every token."""
        self._entries.clear()
