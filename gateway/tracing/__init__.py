"""OpenTelemetry traces, opt-in (`[tracing]`, docs/gateway.md "Traces"): spans of a request's
way through the gateway, sent over OTLP/HTTP by a batch processor in a thread of its own.

The rooms mark their work with one line each, `with span("name", {...}):`, and `note(key,
value)` adds an attribute to the span in progress. Until `start` (the app's lifespan, once per
worker, when `tracing.enabled`) both are a module-level no-op: `span` returns one shared
object, creates nothing, and no OpenTelemetry module is imported (`_otel` is, by `start`), so a
gateway without traces pays one function call per mark (docs/benchmarks.md).

Spans carry shapes and counts, never values: no variables, identifiers, SQL parameters, query
texts or error messages (an error is marked by its class name only). docs/security.md lists
every attribute. The W3C `traceparent` of an incoming request is followed (`span(...,
parent=headers)`); baggage is not read.

    __init__  span, note, recording: the no-op path, and start/stop
    _otel     the recording path: the SDK's provider, the OTLP/HTTP exporter, the spans
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from gateway.errors import GatewayError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

    from gateway.tracing._otel import Recorder

__all__ = [
    "Attribute",
    "Options",
    "Span",
    "TracingUnavailableError",
    "check",
    "note",
    "recording",
    "span",
    "start",
    "stop",
]

#: What a span attribute may hold: shapes and counts (docs/security.md), never values.
Attribute = str | int | float | bool


class TracingUnavailableError(GatewayError):
    """`[tracing] enabled = true`, but the OpenTelemetry packages are not installed."""


class Options(Protocol):
    """What `start` reads of the deployment's `[tracing]` (gateway.settings.TracingOptions)."""

    @property
    def endpoint(self) -> str: ...
    @property
    def service_name(self) -> str: ...
    @property
    def sample_ratio(self) -> float: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def timeout_s(self) -> float: ...


class Span(Protocol):
    """A span in progress, as the rooms see it."""

    def __enter__(self) -> Span: ...
    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...
    def set(self, key: str, value: Attribute) -> None:
        """Add an attribute (a shape or a count; never a value a caller sent)."""


class _Off:
    """The span of a gateway without traces: one shared object that does nothing."""

    __slots__ = ()

    def __enter__(self) -> _Off:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def set(self, key: str, value: Attribute) -> None:
        """Nothing to add to."""


_OFF = _Off()
#: The running gateway's recorder; None: traces are off (the no-op path).
_recorder: Recorder | None = None


def span(
    name: str,
    attributes: Mapping[str, Attribute] | None = None,
    *,
    parent: Mapping[str, str] | None = None,
    root: bool = False,
) -> Span:
    """A span named `name`, a child of the span in progress; with `root` (or `parent`, the
    headers of a request, whose W3C `traceparent` is followed) the start of a trace. The shared
    no-op while traces are off, and for a child outside a sampled trace."""
    recorder = _recorder
    if recorder is None:
        return _OFF
    return recorder.span(name, attributes, parent, root=root) or _OFF


def note(key: str, value: Attribute) -> None:
    """Add an attribute to the span in progress (nothing while traces are off)."""
    recorder = _recorder
    if recorder is not None:
        recorder.note(key, value)


def recording() -> bool:
    """Whether spans are being recorded (to skip work only an attribute would use)."""
    return _recorder is not None


def check() -> None:
    """Raise TracingUnavailableError unless the OpenTelemetry packages can be imported."""
    try:
        import gateway.tracing._otel  # noqa: F401, PLC0415 (only traces need OpenTelemetry)
    except ImportError as error:
        raise TracingUnavailableError(
            f"[tracing] is enabled but OpenTelemetry cannot be imported ({error}); install "
            "govgate with its tracing extra (pip install 'govgate[tracing]') or set "
            "tracing.enabled = false (docs/deploy-config.md)."
        ) from None


def start(options: Options) -> None:
    """Record spans from now on, in this process, and send them to `options.endpoint`."""
    global _recorder  # noqa: PLW0603 (the no-op path reads one module global, nothing more)
    check()
    from gateway.tracing._otel import Recorder  # noqa: PLC0415 (imported by check above)

    stop()
    _recorder = Recorder(options)


def stop() -> None:
    """Stop recording; send what is buffered (bounded by the exporter's timeout). Blocks: call
    it in a thread from the event loop."""
    global _recorder
    recorder, _recorder = _recorder, None
    if recorder is not None:
        recorder.shutdown()
