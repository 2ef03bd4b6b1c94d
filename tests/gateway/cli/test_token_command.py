"""`govgate token`, run as the installed console script, checked with real signatures."""

from __future__ import annotations

import hashlib
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
)

from gateway.identity import Authenticator, IdentityConfig
from gateway.identity.dev_keys import DEV_AUDIENCE, DEV_ISSUER, dev_signing_key

if TYPE_CHECKING:
    from policies.catalog import Catalog

GOVGATE = shutil.which("govgate") or str(Path(sys.executable).with_name("govgate"))


def govgate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GOVGATE, *args], capture_output=True, text=True, timeout=120,
                          check=False)  # fmt: skip


def key_file(data: Path) -> Path:
    return data / "keys" / "dev-signing-key.pem"


def public_key_of(data: Path) -> tuple[str, Ed25519PublicKey]:
    """The kid and public key of the development key file, read straight from the PEM."""
    private = load_pem_private_key(key_file(data).read_bytes(), password=None)
    assert isinstance(private, Ed25519PrivateKey)
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16], private.public_key()


def test_token_prints_a_token_signed_with_the_development_key(tmp_path: Path) -> None:
    before = int(time.time())
    result = govgate("token", "--agency", "TH-CA", "--ttl", "600", "--data", str(tmp_path))
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert result.stdout == f"{token}\n"  # the token alone, for TOKEN=$(govgate token ...)

    kid, public_key = public_key_of(tmp_path)
    assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "kid": kid, "typ": "JWT"}
    claims = jwt.decode(token, public_key, algorithms=["EdDSA"], audience=DEV_AUDIENCE,
                        issuer=DEV_ISSUER)  # fmt: skip
    assert claims["sub"] == "TH-CA"
    assert claims["iss"] == "govgate-dev"
    assert claims["aud"] == "govgate"
    assert before <= claims["iat"] == claims["nbf"] <= int(time.time())
    assert claims["exp"] == claims["iat"] + 600
    assert len(claims["jti"]) == 32


def test_token_creates_the_key_file_owner_only_and_reuses_it(tmp_path: Path) -> None:
    first = govgate("token", "--agency", "PY-TAX", "--data", str(tmp_path))
    assert first.returncode == 0, first.stderr
    path = key_file(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text("ascii").startswith("-----BEGIN PRIVATE KEY-----")
    pem = path.read_bytes()

    second = govgate("token", "--agency", "PY-TAX", "--data", str(tmp_path))
    assert second.returncode == 0, second.stderr
    assert path.read_bytes() == pem
    kids = {jwt.get_unverified_header(r.stdout.strip())["kid"] for r in (first, second)}
    assert kids == {public_key_of(tmp_path)[0]}
    assert first.stdout != second.stdout  # a fresh jti each time
    # No temporary file left; the public half beside the key, for deployment files to name.
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "dev-signing-key.pem",
        "dev-signing-key.pub.pem",
    ]


def test_token_refuses_an_agency_outside_the_catalogue_and_names_the_known_ones(
    tmp_path: Path,
) -> None:
    result = govgate("token", "--agency", "XX-NOBODY", "--data", str(tmp_path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert "'XX-NOBODY' is not an agency in the sharing catalogue" in result.stderr
    assert "TH-CA" in result.stderr
    assert "PY-TAX" in result.stderr
    assert not key_file(tmp_path).exists()


def test_token_refuses_a_lifetime_outside_its_range(tmp_path: Path) -> None:
    result = govgate("token", "--agency", "TH-CA", "--ttl", "59", "--data", str(tmp_path))
    assert result.returncode == 2
    assert "--ttl" in result.stderr
    assert "60<=x<=31536000" in result.stderr


def test_token_explains_an_unreadable_key_file(tmp_path: Path) -> None:
    key_file(tmp_path).parent.mkdir()
    key_file(tmp_path).write_text("not a key", "ascii")
    result = govgate("token", "--agency", "TH-CA", "--data", str(tmp_path))
    assert result.returncode == 2
    assert "is not an unencrypted PKCS8 PEM private key; delete it" in result.stderr
    assert "Traceback" not in result.stderr


async def test_a_printed_token_passes_the_gateway_authenticator(
    tmp_path: Path, catalog: Catalog
) -> None:
    result = govgate("token", "--agency", "HZ-HRSS", "--data", str(tmp_path))
    assert result.returncode == 0, result.stderr
    key = dev_signing_key(tmp_path)  # what `govgate demo --data` serves with
    config = IdentityConfig(issuer=DEV_ISSUER, audience=DEV_AUDIENCE,
                            public_keys={key.kid: key.public_pem()})  # fmt: skip
    codes = {agency.code for agency in catalog.agencies}
    authenticator = Authenticator(config, is_known_agency=codes.__contains__)
    identity = await authenticator.authenticate(f"Bearer {result.stdout.strip()}")
    assert identity.agency == "HZ-HRSS"
