"""Errors raised by `gateway.backup`.

GatewayError      (gateway.errors)
└── BackupError   (the backup or restore cannot go on; the message says what to do)
"""

from __future__ import annotations

from gateway.errors import GatewayError

__all__ = ["BackupError"]


class BackupError(GatewayError):
    """A backup or restore cannot go on; the message says what to do."""
