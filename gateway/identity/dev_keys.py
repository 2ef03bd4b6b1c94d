"""The local development signing key, and tokens signed with it.

`govgate demo --data DIR` verifies tokens with the key in `DIR/keys/dev-signing-key.pem`, and
`govgate token --data DIR` signs with the same file, so a printed token works at once. A real
deployment verifies tokens from its own issuer instead (PEM files or a JWKS URL, see
`gateway.identity`).
"""

from __future__ import annotations

import contextlib
import hashlib
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from gateway.errors import SigningKeyError
from gateway.files import write_private
from gateway.identity.config import OFFICER_ID

if TYPE_CHECKING:
    from pathlib import Path

    from jwt.algorithms import AllowedPrivateKeys

__all__ = [
    "DEV_AUDIENCE",
    "DEV_ISSUER",
    "DEV_KEY_FILE",
    "DEV_PUBLIC_KEY_FILE",
    "SigningKey",
    "dev_signing_key",
    "issue_token",
    "public_key_id",
]

DEV_ISSUER = "govgate-dev"
DEV_AUDIENCE = "govgate"
#: Where, under the data folder, the development key lives.
DEV_KEY_FILE = "keys/dev-signing-key.pem"
#: Its public half, beside it: what a deployment file names to accept the development tokens.
DEV_PUBLIC_KEY_FILE = "keys/dev-signing-key.pub.pem"


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A private key that signs tokens, with the key id (`kid`) and algorithm it signs with."""

    kid: str
    algorithm: str
    private_key: AllowedPrivateKeys = field(repr=False)

    def public_pem(self) -> str:
        """The public half, as a PEM `PUBLIC KEY` block (what a verifier is configured with)."""
        public = self.private_key.public_key()
        return public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def ed25519_kid(private_key: Ed25519PrivateKey) -> str:
    """The key id of an Ed25519 key: the first 16 hex digits of SHA-256 of its raw public key."""
    raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_id(pem: str) -> str:
    """The key id `ed25519_kid` gives the private half of this Ed25519 public key (PEM).

    Raises ValueError (a sentence) for text that is not an Ed25519 public key.
    """
    try:
        public = load_pem_public_key(pem.encode("utf-8"))
    except (ValueError, TypeError):
        raise ValueError(
            "is not a PEM public key; give the text of a '-----BEGIN PUBLIC KEY-----' block."
        ) from None
    if not isinstance(public, Ed25519PublicKey):
        raise ValueError(
            f"holds a {type(public).__name__}, not an Ed25519 key; name other keys under "
            "[identity.public_keys] with their kid."
        )
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def dev_signing_key(data_dir: Path) -> SigningKey:
    """Load `data_dir/keys/dev-signing-key.pem`, creating a new random Ed25519 key if missing.

    The file is PKCS8 PEM, readable by its owner only (mode 0600). Raises SigningKeyError when
    the file cannot be read or written, or holds something other than an Ed25519 private key.
    """
    path = data_dir / DEV_KEY_FILE
    if not path.exists():
        _create_key_file(path)
    try:
        loaded = load_pem_private_key(path.read_bytes(), password=None)
    except OSError as error:
        raise SigningKeyError(
            f"Cannot read the development signing key {path} ({error.strerror}); "
            "check its permissions, or choose another data folder."
        ) from None
    except (ValueError, TypeError):
        raise SigningKeyError(
            f"{path} is not an unencrypted PKCS8 PEM private key; delete it and run the "
            "command again to create a new development key."
        ) from None
    if not isinstance(loaded, Ed25519PrivateKey):
        raise SigningKeyError(
            f"{path} holds a {type(loaded).__name__}, not an Ed25519 key; delete it and run "
            "the command again to create a new development key."
        )
    key = SigningKey(kid=ed25519_kid(loaded), algorithm="EdDSA", private_key=loaded)
    _write_public_half(data_dir / DEV_PUBLIC_KEY_FILE, key)
    return key


def _write_public_half(path: Path, key: SigningKey) -> None:
    """Keep the public half beside the key, so a deployment file can name it (it is public)."""
    pem = key.public_pem()
    try:
        if path.exists() and path.read_text("ascii") == pem:
            return
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        temporary.write_text(pem, "ascii")
        temporary.replace(path)
    except OSError as error:
        raise SigningKeyError(
            f"Cannot write the development key's public half {path} ({error.strerror}); "
            "choose a data folder you can write to."
        ) from None


def _create_key_file(path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
    )
    # Whole or not at all; when two processes race, both end up using the winner's key.
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            write_private(path, pem, replace=False)
    except OSError as error:
        raise SigningKeyError(
            f"Cannot create the development signing key {path} ({error.strerror}); "
            "choose a data folder you can write to."
        ) from None


def issue_token(
    key: SigningKey,
    *,
    agency: str,
    officer: str | None = None,
    ttl_seconds: int = 3600,
    issuer: str = DEV_ISSUER,
    audience: str = DEV_AUDIENCE,
    now: int | None = None,
) -> str:
    """A JWT naming `agency` (`sub`), valid from `now` (default: the clock) for `ttl_seconds`.

    The header carries the key's `kid` and `alg`; the claims are sub, iss, aud, iat, nbf, exp
    and a random jti, and `act: {"sub": officer}` (RFC 8693) when an officer is named. Raises
    ValueError for an empty agency, an officer id the gateway would refuse, or a non-positive
    lifetime.
    """
    if not agency:
        raise ValueError("A token must name an agency; pass its catalogue code, e.g. TH-CA.")
    if officer is not None and not OFFICER_ID.fullmatch(officer):
        raise ValueError(
            f"The officer id {officer!r} is not 1 to 64 letters, digits or . _ : @ / + = -; "
            "use the officer's staff number, e.g. 440106-0042."
        )
    if ttl_seconds <= 0:
        raise ValueError(f"A token must live a positive number of seconds, not {ttl_seconds}.")
    issued = int(time.time()) if now is None else now
    claims: dict[str, Any] = {
        "sub": agency,
        "iss": issuer,
        "aud": audience,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    if officer is not None:
        claims["act"] = {"sub": officer}  # RFC 8693: the person acting for the agency
    return jwt.encode(claims, key.private_key, algorithm=key.algorithm, headers={"kid": key.kid})
