"""Private files written whole: signing keys and the like (one helper for every room).

`write_private` writes a temporary file readable by the gateway's user alone (mode 0600, set
after opening so the umask cannot widen it), syncs it, and moves it into place: the file appears
complete or not at all, even if the process stops half-way (a key lost that way would orphan the
vouchers and tokens it signed). With `replace=False` an existing file is never overwritten: when
two processes race to create a key, both end up using the winner's (FileExistsError tells the
loser). Raises OSError; each caller says in its own words what to do.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["write_private"]


def write_private(path: Path, content: bytes, *, replace: bool) -> None:
    """Write `content` to `path` (mode 0600) atomically and durably; see the module docstring."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(descriptor, 0o600)  # the umask may not take bits away from a secret
            os.write(descriptor, content)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        if replace:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)  # never overwrite: FileExistsError when it is there
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink()
