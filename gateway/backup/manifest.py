"""The manifest: what a backup holds, each file's SHA-256, and the check against it.

A backup is one folder, checkable by anyone with `manifest.json` and `sha256sum`:

    manifest.json              govgate version, time (UTC) and, per part: kind, files with
                               their SHA-256, rows per table, the URL without its password
    databases/<part>.db        SQLite: the online backup API, inside one read snapshot
    databases/<part>.pgdump    PostgreSQL: pg_dump --format=custom of the snapshot counted
    databases/<part>.sql       MariaDB / MySQL: mariadb-dump --single-transaction
    policy/catalog.*, rules.*  the sharing catalogue and the author rules
    keys/                      the gateway's private signing keys (unless left out)

A part is one database or one set of policy files; roles that share a database (say persons
and the audit store on one PostgreSQL database) are one part, named `persons+audit`. The
manifest is written last: a folder without one is not a finished backup.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NoReturn, get_args

from gateway.backup._disk import fsync, write_durably
from gateway.backup._progress import progress_bar
from gateway.backup.errors import BackupError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from tqdm import tqdm

__all__ = [
    "MANIFEST",
    "Kind",
    "Manifest",
    "Part",
    "Restored",
    "Stored",
    "check_files",
    "read_manifest",
    "sha256",
    "stored",
    "write_manifest",
]

Kind = Literal["sqlite", "postgresql", "mysql", "files"]
MANIFEST = "manifest.json"
_FORMAT = "govgate-backup-v1"
_STORED_NAME = re.compile(r"(databases|policy|keys)/[^/\\]+")


@dataclass(frozen=True, slots=True, kw_only=True)
class Stored:
    """One file of a backup: its path in the backup folder, SHA-256 and size."""

    file: str
    sha256: str
    bytes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Part:
    """One database or set of policy files, as the manifest records it.

    `serves` names the roles a database plays (source names, `audit`); `location` is the
    database URL without its password, or the policy file's or keys folder's path.
    """

    name: str
    kind: Kind
    files: tuple[Stored, ...]
    location: str
    serves: tuple[str, ...] = ()
    tables: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Manifest:
    """What a backup holds: `manifest.json`."""

    version: str
    created_at: str
    parts: tuple[Part, ...]

    def to_json(self) -> dict[str, Any]:
        """The manifest as written to `manifest.json`."""
        return {
            "format": _FORMAT,
            "govgate": self.version,
            "created_at": self.created_at,
            "parts": [_part_json(part) for part in self.parts],
        }


@dataclass(frozen=True, slots=True)
class Restored:
    """One part put back into one target, and the rows per table found there afterwards."""

    part: Part
    target: str
    found: Mapping[str, int]

    @property
    def mismatches(self) -> list[str]:
        """Each table whose restored row count differs from the manifest's, as a sentence."""
        return [
            f"{self.part.name}: table {name} should hold {expected:,} rows but {self.target} "
            + ("has no such table" if name not in self.found else f"holds {self.found[name]:,}")
            for name, expected in self.part.tables.items()
            if self.found.get(name) != expected
        ]


def write_manifest(folder: Path, manifest: Manifest) -> None:
    """Write `manifest.json` into `folder`, durably: the last step of a backup."""
    document = json.dumps(manifest.to_json(), indent=2, ensure_ascii=False) + "\n"
    write_durably(folder / MANIFEST, document.encode("utf-8"))


def read_manifest(folder: Path) -> Manifest:
    """The manifest of the backup in `folder`; raises BackupError if missing or damaged."""
    path = folder / MANIFEST
    try:
        document = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise BackupError(
            f"{folder} holds no {MANIFEST}: it is not a govgate backup, or the "
            "backup did not finish. Pass a folder `govgate backup --to` wrote."
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BackupError(
            f"{path} cannot be read ({error}); restore from another backup."
        ) from None
    try:
        if document.get("format") != _FORMAT:
            raise ValueError(f"its format is {document.get('format')!r}, not {_FORMAT}")
        parts = tuple(_parse_part(item) for item in document["parts"])
        return Manifest(
            version=str(document["govgate"]), created_at=str(document["created_at"]), parts=parts
        )
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise BackupError(f"{path} is damaged ({error!s}); restore from another backup.") from None


def check_files(folder: Path, manifest: Manifest) -> None:
    """Check every file against the manifest's SHA-256; raises BackupError naming the first bad."""
    files = [item for part in manifest.parts for item in part.files]
    with progress_bar("checking the backup", sum(item.bytes for item in files), "B") as bar:
        for item in files:
            path = folder / item.file
            if not path.is_file():
                raise BackupError(
                    f"{item.file} is missing from the backup in {folder}: it is "
                    "incomplete. Nothing was restored; use another backup."
                )
            if sha256(path, bar) != item.sha256:
                raise BackupError(
                    f"{item.file} in {folder} is damaged: its SHA-256 differs "
                    "from the manifest's. Nothing was restored; restore from "
                    "another backup, or from its off-site copy."
                )


def stored(folder: Path, name: str) -> Stored:
    """The manifest's record of `name`, a file just written into the backup in `folder`."""
    path = folder / name
    path.chmod(0o600)  # personal data, private keys: the backup's owner alone reads them
    fsync(path)
    return Stored(file=name, sha256=sha256(path), bytes=path.stat().st_size)


def sha256(path: Path, bar: tqdm[NoReturn] | None = None) -> str:
    """The SHA-256 of a file, in hex; `bar` counts the bytes read."""
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
            if bar is not None:
                bar.update(len(chunk))
    return digest.hexdigest()


def _part_json(part: Part) -> dict[str, Any]:
    described: dict[str, Any] = {"name": part.name, "kind": part.kind}
    if part.kind == "files":
        described["path"] = part.location
    else:
        described |= {"serves": list(part.serves), "url": part.location}
        described["tables"] = dict(part.tables)
    described["files"] = [
        {"file": s.file, "sha256": s.sha256, "bytes": s.bytes} for s in part.files
    ]
    return described


def _parse_part(item: Mapping[str, Any]) -> Part:
    kind = item["kind"]
    if kind not in get_args(Kind):
        raise ValueError(f"part {item.get('name')!r} has an unknown kind {kind!r}")
    files = tuple(_parse_stored(entry) for entry in item["files"])
    if kind != "files" and len(files) != 1:
        raise ValueError(f"database part {item['name']!r} must have exactly one file")
    return Part(
        name=str(item["name"]),
        kind=kind,
        files=files,
        location=str(item.get("url") or item.get("path") or ""),
        serves=tuple(str(role) for role in item.get("serves", ())),
        tables={str(k): int(v) for k, v in item.get("tables", {}).items()},
    )


def _parse_stored(entry: Mapping[str, Any]) -> Stored:
    name = str(entry["file"])
    if not _STORED_NAME.fullmatch(name) or ".." in name:
        raise ValueError(f"{name!r} is not a file a backup writes")
    return Stored(file=name, sha256=str(entry["sha256"]), bytes=int(entry["bytes"]))
