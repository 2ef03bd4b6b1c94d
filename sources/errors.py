"""Errors raised by the base databases layer.

SourceError
├── InvalidIdentifierError   (sources.identifiers: an identifier failed a check)
├── SourceConfigError        (a source URL or data folder is not usable)
└── SeedError                (synthetic data cannot be generated as asked)
"""

from __future__ import annotations

__all__ = ["SeedError", "SourceConfigError", "SourceError"]


class SourceError(Exception):
    """Root of every error raised by `sources`."""


class SourceConfigError(SourceError):
    """A source is configured in a way that cannot work; the message says how to fix it."""


class SeedError(SourceError):
    """The synthetic data generator was asked for something it cannot do."""
