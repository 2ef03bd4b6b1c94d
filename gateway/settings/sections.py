"""The deployment's settings sections: small frozen dataclasses, one per TOML table.

Each is keyword-only with safe defaults and validated at construction (ConfigError with a
sentence). `Settings` (gateway.settings.deployment) holds them; gateway.settings.loading reads
them from a deployment file, refusing unknown keys by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path  # noqa: TC003 (a field type the settings loader checks at run time)
from types import MappingProxyType
from typing import TYPE_CHECKING

from gateway.errors import GatewayError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "EVENT_LOOPS",
    "HTTP_PARSERS",
    "AgencyRateLimits",
    "ConfigError",
    "DocumentOptions",
    "Limits",
    "MetricsOptions",
    "RateLimits",
    "ServerOptions",
    "TracingOptions",
    "Witnessing",
    "WorkflowOptions",
]


class ConfigError(GatewayError):
    """The configuration file cannot be used; the message says what to change."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Bounds on what one request may ask (QUERY_TOO_COMPLEX past them)."""

    max_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 2_000
    max_page_size: int = 100
    max_batch: int = 10
    max_body_bytes: int = 100_000
    max_verifications: int = 5
    #: Field selections of a document once its fragments are expanded
    #: (gateway.graphql.bounds.measure).
    max_expanded_fields: int = 2_000
    #: Pairs of selections merged into one response name, which validation compares.
    max_merge_pairs: int = 2_000
    #: Estimated cost of a request, a batch's operations added up (docs/security.md).
    max_cost: int = 20_000
    #: Records a link list (`Person.licenses`...) is assumed to hold when estimating the cost.
    records_per_link: int = 10
    #: Bytes of a response body; a larger answer is withheld (QUERY_TOO_COMPLEX).
    max_response_bytes: int = 4_000_000
    #: Bytes of a `GET /graphql` query string (RFC 9110 asks servers to take 8,000 at least).
    max_url_bytes: int = 8_000

    def __post_init__(self) -> None:
        names = ("max_depth", "max_aliases", "max_tokens", "max_page_size", "max_batch",
                 "max_verifications", "max_body_bytes", "max_expanded_fields",
                 "max_merge_pairs", "max_cost", "records_per_link",
                 "max_response_bytes", "max_url_bytes")  # fmt: skip
        for name in names:
            if getattr(self, name) < 1:
                raise ConfigError(f"limits.{name} must be at least 1.")


#: The HTTP parsers `server.http` may name: httptools (C, the default) or h11 (pure Python).
HTTP_PARSERS = ("httptools", "h11")
#: The event loops `server.loop` may name: uvloop (the default) or the standard library's.
EVENT_LOOPS = ("uvloop", "asyncio")


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentOptions:
    """`[documents]`: trusted documents (persisted queries, docs/gateway.md).

    `require_registered` names the agencies that may run only documents the platform
    administrator approved (`govgate documents approve`); `"*"` (alone or in the list) means
    every agency. Default: none, so any valid operation runs, as before. `max_registered`
    bounds the documents an agency's application may register by itself (automatic persisted
    queries), so one application cannot fill the gateway's database or memory.
    """

    require_registered: tuple[str, ...] | str = ()
    max_registered: int = 1_000

    def __post_init__(self) -> None:
        given: object = self.require_registered
        if isinstance(given, str):
            given = (given,)
        if not isinstance(given, (list, tuple)) or not all(
            isinstance(code, str) and code for code in given
        ):
            raise ConfigError(
                'documents.require_registered must be a list of agency codes or "*", '
                'e.g. ["GZ-PSB"].'
            )
        object.__setattr__(self, "require_registered", tuple(given))
        cap: object = self.max_registered
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 0:
            raise ConfigError("documents.max_registered must be a whole number, 0 or more.")

    def requires(self, agency: str) -> bool:
        """Whether `agency` may run approved documents only."""
        return agency in self.require_registered or "*" in self.require_registered


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerOptions:
    """Where to listen, and how long and how many clients may take (`[server]`).

    A connection that has not sent a request's headers `header_timeout_s` after connecting (or
    after its previous answer) is closed; a body not complete `body_timeout_s` after its
    headers is answered 408 (slowloris, docs/security.md); a client that stops reading its
    answer for `write_timeout_s` is disconnected. An idle connection is kept
    `keep_alive_s`. Past `max_connections` open connections a new one is closed at once; past
    `max_requests` requests in progress (per worker) a request is answered 503 `OVERLOADED`.
    `http` is the HTTP parser (httptools, or h11 in pure Python) and `loop` the event loop
    (uvloop, or the standard library's asyncio); the bounds above hold under every choice.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    write_timeout_s: float = 30.0
    keep_alive_s: int = 5
    max_connections: int = 1_000
    max_requests: int = 200
    http: str = "httptools"
    loop: str = "uvloop"

    def __post_init__(self) -> None:
        if self.http not in HTTP_PARSERS:
            raise ConfigError(
                f"server.http must be one of {', '.join(HTTP_PARSERS)}, not {self.http!r}."
            )
        if self.loop not in EVENT_LOOPS:
            raise ConfigError(
                f"server.loop must be one of {', '.join(EVENT_LOOPS)}, not {self.loop!r}."
            )
        if not 0 <= self.port <= 65_535:
            raise ConfigError(f"server.port must be 0 to 65535, not {self.port}.")
        for name in ("header_timeout_s", "body_timeout_s", "write_timeout_s", "keep_alive_s"):
            if not 0 < getattr(self, name) <= 3_600:
                raise ConfigError(f"server.{name} must be more than 0 and at most 3600 seconds.")
        for name in ("max_connections", "max_requests"):
            if getattr(self, name) < 1:
                raise ConfigError(f"server.{name} must be at least 1.")


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricsOptions:
    """Where Prometheus scrapes `/metrics` (`[metrics]`): never the agencies' port.

    `listen` is `host:port` of a listener of its own, loopback by default because the metrics
    name every agency's call rates; "" turns it off.
    """

    listen: str = "127.0.0.1:9464"

    def __post_init__(self) -> None:
        if self.listen and self.address is None:
            raise ConfigError(
                f'metrics.listen must be host:port (e.g. 127.0.0.1:9464) or "", not '
                f"{self.listen!r}."
            )

    @property
    def address(self) -> tuple[str, int] | None:
        """(host, port) to listen on; None when turned off or malformed."""
        host, _, port = self.listen.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) <= 65_535:
            return None
        return host.strip("[]"), int(port)


@dataclass(frozen=True, slots=True, kw_only=True)
class TracingOptions:
    """OpenTelemetry traces, sent over OTLP/HTTP to a collector (`[tracing]`, off by default).

    Each worker sends its spans in batches, in a thread of its own, to `endpoint` (the full
    URL, `/v1/traces` included) with `headers` (a collector's API key, say); a batch that
    cannot be sent within `timeout_s` is dropped and logged, never a request's delay.
    `sample_ratio` of the traces started here are kept (a caller's sampled `traceparent` is
    followed). What spans carry, and never carry: docs/security.md.
    """

    enabled: bool = False
    endpoint: str = "http://127.0.0.1:4318/v1/traces"
    service_name: str = "govgate"
    sample_ratio: float = 1.0
    headers: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if not self.endpoint.startswith(("http://", "https://")):
            raise ConfigError(
                "tracing.endpoint must be the collector's OTLP/HTTP URL, e.g. "
                f"http://127.0.0.1:4318/v1/traces, not {self.endpoint!r}."
            )
        if not self.service_name.strip():
            raise ConfigError('tracing.service_name must not be empty; "govgate" is usual.')
        if not 0.0 <= self.sample_ratio <= 1.0:
            raise ConfigError(
                "tracing.sample_ratio must be between 0 and 1 (1: every trace is kept)."
            )
        if not 0 < self.timeout_s <= 60:
            raise ConfigError("tracing.timeout_s must be more than 0 and at most 60 seconds.")


@dataclass(frozen=True, slots=True, kw_only=True)
class Witnessing:
    """Where and how often the gateway publishes its signed audit head (`[audit]`, Art. 28).

    Defaults: no witness (a deployment must name one it cannot rewrite: docs/deploy.md); when
    there is one, a head every 1,000 records or 5 seconds, so a rewrite with the gateway's own
    key can hide at most the last few seconds of records.
    """

    #: Database URLs (an insert-only role) and/or paths of append-only files.
    witnesses: tuple[str, ...] = ()
    witness_every: int = 1_000
    witness_interval_s: float = 5.0
    #: How long one publication (or reading the head) may take before it counts as failed.
    witness_timeout_s: float = 5.0
    #: How often each writer signs a checkpoint over every chain head while records are
    #: written (gateway.trust.audit.chains): 1 s by default, so a chain cut back and re-signed
    #: disagrees with a checkpoint at most a second old.
    checkpoint_interval_s: float = 1.0

    def __post_init__(self) -> None:
        given: object = self.witnesses
        if (
            isinstance(given, str)
            or not isinstance(given, (list, tuple))
            or not all(isinstance(w, str) and w for w in given)
        ):
            raise ConfigError(
                "witnesses must be a list of database URLs or file paths, "
                'e.g. ["/var/lib/govgate-witness/heads.jsonl"].'
            )
        object.__setattr__(self, "witnesses", tuple(given))
        every: object = self.witness_every
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ConfigError(f"witness_every must be a record count of 1 or more, not {every!r}.")
        for name in ("witness_interval_s", "witness_timeout_s", "checkpoint_interval_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(f"{name} must be a number of seconds above 0, not {value!r}.")


@dataclass(frozen=True, slots=True, kw_only=True)
class AgencyRateLimits:
    """Sliding windows over one agency's traffic (RATE_LIMITED past them; docs/security.md).

    0 switches a limit off. The request quota is off by default: it is a share of capacity
    each deployment sizes for itself. The verification limits are on: without them
    verification is an oracle that reads values by guessing (Art. 24, 34(4)).
    """

    #: Requests per minute (the per-agency request quota); 0: no quota.
    requests_per_minute: int = 0
    #: Verification fields run per minute and per hour, summed over every worker and machine.
    verifications_per_minute: int = 60
    verifications_per_hour: int = 1_000
    #: Distinct claims tried against one subject (an ID number) within `subject_window_seconds`;
    #: one more refuses every verification of that subject until older claims age out.
    subject_candidates: int = 5
    subject_window_seconds: int = 86_400

    def __post_init__(self) -> None:
        for name in ("requests_per_minute", "verifications_per_minute", "verifications_per_hour",
                     "subject_candidates"):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} must be a whole number, 0 or more (0: no limit).")
        window = self.subject_window_seconds
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ConfigError(
                "subject_window_seconds must be a whole number of seconds, 1 or more."
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowOptions:
    """`[workflows]`: the working-day file for years `chinese-calendar` does not cover.

    None (the default): those years count Monday to Friday, with a warning beside every
    deadline that counted one (docs/workflows.md). The gateway refuses to start on a file
    with problems rather than count deadlines wrong.
    """

    calendar: Path | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimits:
    """`[rate_limits]`: the deployment's windows, and `[rate_limits.agencies.CODE]` overrides."""

    default: AgencyRateLimits = field(default_factory=AgencyRateLimits)
    agencies: Mapping[str, AgencyRateLimits] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "agencies", MappingProxyType(dict(self.agencies)))

    def for_agency(self, code: str) -> AgencyRateLimits:
        """The windows that apply to agency `code`."""
        return self.agencies.get(code, self.default)
