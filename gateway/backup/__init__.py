"""Back up and restore a deployment (Art. 20, 27): every source, the audit store, the policy.

    folder = Path("/var/backups/govgate/2024-06-01")
    manifest = await back_up(settings, folder)          # `govgate backup --to`
    for restored in await restore(settings, folder):    # `govgate restore --from`
        print(*restored.mismatches, sep="\\n")

run       back_up, restore: every part copied out, or checked, put back and counted
plan      which databases a deployment has, and where each part of a backup goes back
manifest  Manifest, Part, Stored, Restored: `manifest.json`, its SHA-256s and the check
sqlite    SQLite files: an online copy inside one read snapshot, an atomic restore
servers   PostgreSQL and MariaDB/MySQL: pg_dump / pg_restore, mariadb-dump / mariadb
files     the policy files and the private signing keys
urls      database URLs: their kind, identity, and the form without the password
errors    BackupError
_disk, _progress: durable writes; progress bars on a terminal
"""

from __future__ import annotations

from gateway.backup.errors import BackupError
from gateway.backup.manifest import (
    MANIFEST,
    Kind,
    Manifest,
    Part,
    Restored,
    Stored,
    check_files,
    read_manifest,
)
from gateway.backup.run import back_up, restore

__all__ = [
    "MANIFEST",
    "BackupError",
    "Kind",
    "Manifest",
    "Part",
    "Restored",
    "Stored",
    "back_up",
    "check_files",
    "read_manifest",
    "restore",
]
