"""Identity: who is calling (Art. 29, 34), and the tokens that say so.

    config          IdentityConfig: issuer, audience, algorithms, keys, lifetimes
    keys            the keys tokens are verified with: PEM, and a JWKS document's
    jwks            the issuer's JWKS, fetched without blocking and cached by kid
    authenticator   Authenticator: a bearer token -> Identity (agency, officer), or a refusal
    revocation      tokens revoked by `govgate token revoke`, followed by every process
    dev_keys        the local development signing key, and tokens signed with it

Arrows: identity imports gateway's base modules (errors, codes, files, follow) and nothing of
http, graphql, trust or cli (tests/test_architecture.py).
"""

from gateway.errors import AuthenticationError, AuthenticationReason
from gateway.identity.authenticator import Authenticator, Identity
from gateway.identity.config import DEFAULT_MAX_LIFETIME, OFFICER_ID, IdentityConfig
from gateway.identity.keys import ASYMMETRIC_ALGORITHMS

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "DEFAULT_MAX_LIFETIME",
    "OFFICER_ID",
    "AuthenticationError",
    "AuthenticationReason",
    "Authenticator",
    "Identity",
    "IdentityConfig",
]
