"""The gateway's own Ed25519 signing keys (vouchers, Art. 23), and their public halves.

The keys live in one folder (`Settings.signing_keys`):

    <kid>.pem   one private key per file: PKCS8 PEM, unencrypted, mode 0600
    current     a text file naming the kid the gateway signs with

A kid is `gw-` followed by the first 16 hex digits of SHA-256 of the raw 32-byte public key, so
anyone holding a public key can check that it is the key its id names. Rotation adds a key and
points `current` at it; old keys stay, so vouchers signed with them still verify.

A verifier needs no private key: `PublicKeyring` maps kid -> base64 raw public key, built from
the folder, or from the `{"keys": {kid: base64}}` file `govgate voucher keys` prints.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)

from gateway.files import write_private
from gateway.trust.errors import KeyringError

__all__ = ["GatewayKey", "Keyring", "PublicKeyring", "key_id", "verify_signature"]

KID_PREFIX = "gw-"
CURRENT_FILE = "current"
_LOCK_FILE = ".lock"
_KID = re.compile(r"gw-[0-9a-f]{16}")
_PUBLIC_KEY_BYTES = 32


def key_id(public_key_raw: bytes) -> str:
    """The kid of a raw 32-byte Ed25519 public key: `gw-` + 16 hex digits of its SHA-256."""
    return KID_PREFIX + hashlib.sha256(public_key_raw).hexdigest()[:16]


def _b64decode(text: str) -> bytes:
    """Strict standard base64 (RFC 4648 section 4, with padding); ValueError otherwise."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError(f"{text!r} is not standard base64") from None


def verify_signature(public_key_b64: str, payload: bytes, signature_b64: str) -> bool:
    """Whether `signature_b64` is an Ed25519 signature of `payload` by that public key.

    Both are standard base64 (with padding); malformed input is simply not a valid signature.
    """
    try:
        public = Ed25519PublicKey.from_public_bytes(_b64decode(public_key_b64))
        public.verify(_b64decode(signature_b64), payload)
    except (ValueError, InvalidSignature):
        return False
    return True


@dataclass(frozen=True, slots=True)
class GatewayKey:
    """One of the gateway's private signing keys, with its kid."""

    kid: str
    private_key: Ed25519PrivateKey = field(repr=False)

    @property
    def public_key_b64(self) -> str:
        """The raw 32-byte public key, standard base64."""
        raw = self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.b64encode(raw).decode("ascii")

    def sign(self, payload: bytes) -> str:
        """The Ed25519 signature of `payload`, standard base64."""
        return base64.b64encode(self.private_key.sign(payload)).decode("ascii")


class Keyring:
    """The gateway's signing keys in a folder: all of them, and the current one.

    `Keyring.open(folder)` loads them (creating the folder and a first key when it is empty).
    A running gateway signs with the key that was current when it opened the keyring; after
    `govgate voucher rotate-key` it signs with the new key once it opens the keyring again.
    """

    def __init__(self, folder: Path, keys: Mapping[str, GatewayKey], current: str) -> None:
        if current not in keys:
            raise KeyringError(f"The keyring has no key {current}; open it with Keyring.open.")
        self._folder = folder
        self._keys = dict(keys)
        self._current = keys[current]

    @classmethod
    def open(cls, folder: str | Path) -> Keyring:
        """Load the keys in `folder`, creating it and a first key when it holds none.

        Raises KeyringError when the folder cannot be read or written, a `.pem` file is not an
        Ed25519 private key named after its kid, or `current` names a key that is not there.
        """
        folder = Path(folder)
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as error:
            raise KeyringError(
                f"Cannot create the signing-keys folder {folder} ({error.strerror}); "
                "choose a folder the gateway can write to (signing.keys in the deployment file)."
            ) from None
        with _locked(folder):
            keys = _load_keys(folder)
            current = _read_current(folder)
            if current is None:
                if keys:
                    raise KeyringError(
                        f"{folder} holds signing keys ({', '.join(sorted(keys))}) but no "
                        f"`{CURRENT_FILE}` file naming the one in use; write the kid of the "
                        f"newest key into {folder / CURRENT_FILE}."
                    )
                first = _create_key(folder)
                _write_current(folder, first.kid)
                keys, current = {first.kid: first}, first.kid
            if current not in keys:
                raise KeyringError(
                    f"{folder / CURRENT_FILE} names {current}, but {folder} has no "
                    f"{current}.pem; restore that key file from a backup, or write the kid of "
                    f"an existing key ({', '.join(sorted(keys)) or 'none'}) into it."
                )
        return cls(folder, keys, current)

    @property
    def folder(self) -> Path:
        """The folder the keys live in."""
        return self._folder

    @property
    def current(self) -> GatewayKey:
        """The key new vouchers are signed with."""
        return self._current

    def public_keys(self) -> dict[str, str]:
        """Every key's public half, old and new: kid -> standard base64 of the raw key."""
        return {kid: key.public_key_b64 for kid, key in sorted(self._keys.items())}

    def rotate(self) -> str:
        """Add a new key and make it current; returns its kid. Old keys stay in the folder."""
        with _locked(self._folder):
            new = _create_key(self._folder)
            _write_current(self._folder, new.kid)
            self._keys = _load_keys(self._folder)
        self._current = self._keys[new.kid]
        return new.kid

    def sign(self, payload: bytes) -> tuple[str, str]:
        """Sign `payload` with the current key: (kid, standard base64 signature)."""
        key = self._current
        return key.kid, key.sign(payload)


class PublicKeyring(Mapping[str, str]):
    """The gateway's public keys, kid -> standard base64 raw Ed25519 key: what verifies vouchers.

    Every entry is checked at construction: the kid must be the one its key hashes to, so a
    keys file that was altered or mixed up is refused rather than trusted.
    """

    __slots__ = ("_keys",)

    def __init__(self, keys: Mapping[str, str] | None = None, *, source: str = "") -> None:
        where = f"{source}: " if source else ""
        checked: dict[str, str] = {}
        for kid, public in (keys or {}).items():
            if not isinstance(kid, str) or not _KID.fullmatch(kid):
                raise KeyringError(
                    f"{where}{kid!r} is not a gateway key id (gw- and 16 hex digits); use "
                    "the keys file `govgate voucher keys` prints."
                )
            try:
                raw = _b64decode(public) if isinstance(public, str) else b""
            except ValueError:
                raw = b""
            if len(raw) != _PUBLIC_KEY_BYTES:
                raise KeyringError(
                    f"{where}key {kid} is not a standard base64 raw Ed25519 public key "
                    "(32 bytes); use the keys file `govgate voucher keys` prints."
                )
            if key_id(raw) != kid:
                raise KeyringError(
                    f"{where}key {kid} is not the key its id names (that key's id is "
                    f"{key_id(raw)}); the file was altered or mixed up: print the keys again "
                    "with `govgate voucher keys`."
                )
            checked[kid] = public
        self._keys = dict(sorted(checked.items()))

    @classmethod
    def from_folder(cls, folder: str | Path) -> PublicKeyring:
        """The public halves of the private keys in a keyring folder (which is not changed)."""
        folder = Path(folder)
        if not folder.is_dir():
            raise KeyringError(
                f"{folder} is not a folder of signing keys; pass the deployment's "
                "signing.keys folder, or a keys file printed by `govgate voucher keys`."
            )
        return cls({kid: key.public_key_b64 for kid, key in _load_keys(folder).items()})

    @classmethod
    def from_file(cls, path: str | Path) -> PublicKeyring:
        """Read a `{"keys": {kid: base64}}` file, as `govgate voucher keys` prints it."""
        path = Path(path)
        try:
            document = json.loads(path.read_text("utf-8"))
        except OSError as error:
            raise KeyringError(
                f"Cannot read the keys file {path} ({error.strerror}); pass the file "
                "`govgate voucher keys` printed."
            ) from None
        except (UnicodeDecodeError, ValueError) as error:
            raise KeyringError(
                f"{path} is not JSON ({error}); pass the file `govgate voucher keys` printed."
            ) from None
        keys = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(keys, dict):
            raise KeyringError(
                f'{path} is not a keys file: it must be a JSON object {{"keys": {{kid: '
                "base64 key, ...}}, as `govgate voucher keys` prints it."
            )
        return cls(keys, source=str(path))

    def to_json(self) -> dict[str, dict[str, str]]:
        """`{"keys": {kid: base64}}`: what `from_file` reads back."""
        return {"keys": dict(self._keys)}

    def __or__(self, other: Mapping[str, str]) -> PublicKeyring:
        return PublicKeyring({**self._keys, **other})

    def __getitem__(self, kid: str) -> str:
        return self._keys[kid]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"PublicKeyring({sorted(self._keys)})"


# -- the folder -------------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on the folder: gateway workers starting together on an empty
    folder then agree on one first key, and a rotation never interleaves with a load."""
    try:
        descriptor = os.open(folder / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        raise KeyringError(
            f"Cannot lock the signing-keys folder {folder} ({error.strerror}); check that the "
            "gateway may write to it."
        ) from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def _load_keys(folder: Path) -> dict[str, GatewayKey]:
    keys: dict[str, GatewayKey] = {}
    try:
        paths = sorted(p for p in folder.glob("*.pem") if not p.name.startswith("."))
    except OSError as error:
        raise KeyringError(
            f"Cannot list the signing-keys folder {folder} ({error.strerror}); check its "
            "permissions."
        ) from None
    for path in paths:
        key = _load_key(path)
        if path.stem != key.kid:
            raise KeyringError(
                f"{path} holds key {key.kid}, not {path.stem}; rename it to {key.kid}.pem "
                "(a key file is named after its key id)."
            )
        keys[key.kid] = key
    return keys


def _load_key(path: Path) -> GatewayKey:
    try:
        loaded = load_pem_private_key(path.read_bytes(), password=None)
    except OSError as error:
        raise KeyringError(
            f"Cannot read the signing key {path} ({error.strerror}); check its permissions."
        ) from None
    except (ValueError, TypeError):
        raise KeyringError(
            f"{path} is not an unencrypted PKCS8 PEM private key; restore it from a backup, "
            "or move it out of the signing-keys folder."
        ) from None
    if not isinstance(loaded, Ed25519PrivateKey):
        raise KeyringError(
            f"{path} holds a {type(loaded).__name__}, not an Ed25519 key; move it out of the "
            "signing-keys folder."
        )
    raw = loaded.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return GatewayKey(kid=key_id(raw), private_key=loaded)


def _read_current(folder: Path) -> str | None:
    path = folder / CURRENT_FILE
    try:
        text = path.read_text("utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise KeyringError(
            f"Cannot read {path} ({error}); it must hold the kid of the key in use."
        ) from None
    if not _KID.fullmatch(text):
        raise KeyringError(
            f"{path} holds {text[:40]!r}, not a key id (gw- and 16 hex digits); write the kid "
            "of the key in use into it."
        )
    return text


def _create_key(folder: Path) -> GatewayKey:
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    key = GatewayKey(kid=key_id(raw), private_key=private)
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    _write_file(folder / f"{key.kid}.pem", pem, replace=False)
    return key


def _write_current(folder: Path, kid: str) -> None:
    _write_file(folder / CURRENT_FILE, f"{kid}\n".encode("ascii"), replace=True)


def _write_file(path: Path, content: bytes, *, replace: bool) -> None:
    """`content` into `path` whole or not at all (a key lost half-written would orphan
    vouchers); never over an existing key file unless `replace`."""
    try:
        write_private(path, content, replace=replace)
    except OSError as error:
        raise KeyringError(
            f"Cannot write {path} ({error.strerror}); check that the gateway may write to the "
            "signing-keys folder."
        ) from None
