"""The keys tokens are verified with: PEM public keys, and the signing keys of a JWKS document.

Only asymmetric signatures are accepted (EdDSA by default; RSA of at least 2048 bits and ECDSA
on P-256/384/521 by configuration): never `alg: none`, never an HMAC, so a public key can never
be used as a shared secret; never a JWKS key that is private, symmetric or for encryption.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

if TYPE_CHECKING:
    from collections.abc import Mapping

    from jwt.algorithms import AllowedPublicKeys

__all__ = ["ASYMMETRIC_ALGORITHMS", "VerifyingKey", "jwks_keys", "pem_keys", "verifier_of"]

#: The signature algorithms a gateway may be configured to accept.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
_RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
_MIN_RSA_BITS = 2048

logger = logging.getLogger("gateway.identity")


@dataclass(frozen=True, slots=True)
class VerifyingKey:
    """A public key that verifies token signatures, and the algorithms it may verify."""

    kid: str
    public_key: AllowedPublicKeys
    algorithms: frozenset[str]


def verifier_of(public_key: object) -> tuple[AllowedPublicKeys, frozenset[str]]:
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


def pem_keys(
    public_keys: Mapping[str, str], algorithms: tuple[str, ...]
) -> dict[str, VerifyingKey]:
    """The configured PEM keys by kid; ValueError with a sentence for one that cannot verify."""
    keys = {}
    for kid, pem in public_keys.items():
        try:
            public_key = load_pem_public_key(pem.encode("utf-8"))
        except (ValueError, TypeError):
            hint = " (that is a private key: give its public half)" if "PRIVATE" in pem else ""
            raise ValueError(
                f"IdentityConfig.public_keys[{kid!r}] is not a PEM public key{hint}; give the "
                "text of a '-----BEGIN PUBLIC KEY-----' block."
            ) from None
        try:
            verifier, signs_with = verifier_of(public_key)
        except ValueError as error:
            raise ValueError(
                f"IdentityConfig.public_keys[{kid!r}] is refused: {error}; give another key."
            ) from None
        usable = signs_with & set(algorithms)
        if not usable:
            raise ValueError(
                f"IdentityConfig.public_keys[{kid!r}] signs with {', '.join(sorted(signs_with))},"
                f" none of which is in algorithms ({', '.join(algorithms)}); add one to "
                "algorithms."
            )
        keys[kid] = VerifyingKey(kid, verifier, usable)
    return keys


def jwks_keys(document: object, algorithms: tuple[str, ...]) -> dict[str, VerifyingKey]:
    """The usable signing keys of a JWKS document, by kid (a key without kid under "")."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("the document is not a JWKS (a JSON object with a 'keys' list)")
    keys: dict[str, VerifyingKey] = {}
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
            verifier, signs_with = verifier_of(readers[entry["kty"]].from_jwk(entry))
        except (ValueError, TypeError, KeyError, jwt.PyJWTError) as error:
            logger.warning("JWKS key %r skipped: %s", kid, error)
            continue
        usable = signs_with & set(algorithms)
        if isinstance(entry.get("alg"), str):
            usable &= {entry["alg"]}
        if usable:
            keys[kid] = VerifyingKey(kid, verifier, usable)
    if not keys:
        raise ValueError(f"the JWKS has no signing key for {', '.join(algorithms)}")
    return keys
