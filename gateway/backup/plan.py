"""The parts of a deployment: which databases to back up, and where each part goes back."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from gateway.backup.errors import BackupError
from gateway.backup.files import files_target
from gateway.backup.servers import LOAD_TOOLS, tool
from gateway.backup.urls import identity, kind_of, public

if TYPE_CHECKING:
    from gateway.backup.manifest import Manifest, Part
    from gateway.settings import Settings

__all__ = ["databases", "restore_steps"]


def databases(settings: Settings) -> list[tuple[str, tuple[str, ...]]]:
    """Each distinct database of the deployment with the roles it serves, in settings order."""
    roles: dict[str, list[str]] = {}
    urls: dict[str, str] = {}
    for role, url in {**settings.sources, "audit": settings.audit_url}.items():
        roles.setdefault(identity(url), []).append(role)
        urls.setdefault(identity(url), url)
    return [(urls[key], tuple(serves)) for key, serves in roles.items()]


def restore_steps(settings: Settings, manifest: Manifest) -> list[tuple[Part, str]]:
    """(part, target) pairs: a database URL, or the path of a policy file or keys folder."""
    steps: list[tuple[Part, str]] = []
    for part in manifest.parts:
        if part.kind == "files":
            steps.append((part, str(files_target(settings, part))))
            continue
        targets = {identity(url): url for url in (_role_url(settings, r) for r in part.serves)}
        for url in targets.values():
            if kind_of(url) != part.kind:
                raise BackupError(
                    f"The backup holds {part.name} as a {part.kind} database but "
                    f"the deployment has it on {kind_of(url)} ({public(url)}); "
                    "restore into a deployment with the same kinds of "
                    "database."
                )
            steps.append((part, url))
    files = Counter(identity(target) for part, target in steps if part.kind == "sqlite")
    if shared := [path for path, n in files.items() if n > 1]:
        raise BackupError(
            f"Several parts of the backup would be restored into {shared[0]}; "
            "give each source its own SQLite file in the deployment."
        )
    for kind in {part.kind for part, _ in steps} - {"sqlite", "files"}:
        tool(*LOAD_TOOLS[kind])
    return steps


def _role_url(settings: Settings, role: str) -> str:
    if role == "audit":
        return settings.audit_url
    if role not in settings.sources:
        raise BackupError(
            f"The backup holds a source {role!r} the deployment does not have; "
            "restore with the deployment the backup was taken from."
        )
    return settings.sources[role]
