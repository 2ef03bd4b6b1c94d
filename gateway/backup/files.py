"""Policy files and keys: the sharing catalogue, the author rules, the private signing keys."""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from gateway.backup.errors import BackupError
from gateway.backup.manifest import Part, sha256, stored
from gateway.files import write_private

if TYPE_CHECKING:
    from collections.abc import Mapping

    from gateway.backup.manifest import Stored
    from gateway.settings import Settings

__all__ = ["back_up_policy", "file_target", "files_target", "restore_files"]


def back_up_policy(settings: Settings, folder: Path, *, keys: bool) -> list[Part]:
    """Copy the catalogue, the rules and (if `keys`) the signing keys into `folder`."""
    parts = [
        _copy_files(
            "catalog",
            settings.catalog,
            {f"policy/catalog{settings.catalog.suffix}": settings.catalog},
            folder,
        )
    ]
    if settings.rules is not None:
        files = {f"policy/rules{settings.rules.suffix}": settings.rules}
        parts.append(_copy_files("rules", settings.rules, files, folder))
    if keys and settings.signing_keys.is_dir():
        found = sorted(settings.signing_keys.iterdir())
        files = {f"keys/{p.name}": p for p in found if p.is_file() and not p.name.startswith(".")}
        parts.append(_copy_files("keys", settings.signing_keys, files, folder))
    return parts


def _copy_files(name: str, location: Path, files: Mapping[str, Path], folder: Path) -> Part:
    for name_in_backup, source in files.items():
        target = folder / name_in_backup
        target.parent.mkdir(mode=0o700, exist_ok=True)
        try:
            shutil.copyfile(source, target)
        except OSError as error:
            raise BackupError(
                f"Cannot copy the {name} file {source}: {error.strerror}; check "
                "the path in --config and that it may be read."
            ) from None
        target.chmod(0o600)
    return Part(
        name=name,
        kind="files",
        location=str(location),
        files=tuple(stored(folder, name_in_backup) for name_in_backup in files),
    )


def files_target(settings: Settings, part: Part) -> Path:
    """Where the deployment keeps a files part: the catalogue, rules file or keys folder."""
    if part.name == "catalog":
        return settings.catalog
    if part.name == "keys":
        return settings.signing_keys
    if part.name == "rules" and settings.rules is not None:
        return settings.rules
    if part.name == "rules":
        raise BackupError(
            "The backup holds author rules but the deployment names no rules "
            "file; set [policy] rules in the --config file, then restore."
        )
    raise BackupError(f"The manifest names an unknown part {part.name!r}; use another backup.")


def restore_files(folder: Path, part: Part, target: Path) -> None:
    """Put back each file of `part` that differs from the backup's, one at a time."""
    for item in part.files:
        path = file_target(part, item, target)
        if path.exists() and sha256(path) == item.sha256:
            continue
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if part.name == "keys":  # private keys: the gateway's user alone reads them, ever
            write_private(path, (folder / item.file).read_bytes(), replace=True)
            continue
        partial = path.with_name(f"{path.name}.restoring")
        shutil.copyfile(folder / item.file, partial)
        os.replace(partial, path)


def file_target(part: Part, item: Stored, target: Path) -> Path:
    """Where one file of a files part goes back: into the keys folder, or the file itself."""
    return target / PurePosixPath(item.file).name if part.name == "keys" else target
