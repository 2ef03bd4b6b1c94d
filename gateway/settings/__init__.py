"""Gateway settings: where the sources and the catalogue are, how tokens are checked, limits.

`govgate demo` builds them from a data folder; `govgate serve --config FILE` reads a TOML file
(documented in docs/deploy-config.md). Settings are frozen and validated at construction.

    sections     one frozen dataclass per TOML table (Limits, ServerOptions, RateLimits, ...)
    deployment   Settings: all of them, and the demo deployment's
    loading      load_settings(path), and `section()`, which refuses unknown keys by name

A new setting goes in its section with a safe default, in docs/deploy-config.md, and where
useful in deploy/govgate.example.toml.
"""

from gateway.settings.deployment import Settings
from gateway.settings.loading import load_settings, section
from gateway.settings.sections import (
    AgencyRateLimits,
    ConfigError,
    Limits,
    MetricsOptions,
    RateLimits,
    ServerOptions,
    TracingOptions,
    Witnessing,
    WorkflowOptions,
)

__all__ = [
    "AgencyRateLimits",
    "ConfigError",
    "Limits",
    "MetricsOptions",
    "RateLimits",
    "ServerOptions",
    "Settings",
    "TracingOptions",
    "Witnessing",
    "WorkflowOptions",
    "load_settings",
    "section",
]
