"""The recording path of gateway.tracing: imported only when `[tracing] enabled` (by `start`).

One `TracerProvider` per process (not the global one: a process may start and stop gateways,
as the tests do), sampling by trace id with a caller's sampled `traceparent` followed, and a
`BatchSpanProcessor` whose thread sends OTLP/HTTP protobuf. An export that fails is logged by
the exporter (`opentelemetry.exporter...` logger) and dropped; a request never waits for one.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from opentelemetry import context, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

    from gateway.tracing import Attribute, Options

__all__ = ["LiveSpan", "Recorder"]

log = logging.getLogger("govgate.gateway")

#: W3C Trace Context only: `traceparent` and `tracestate` (baggage, which may carry anything a
#: caller puts in it, is not read).
_PROPAGATOR = TraceContextTextMapPropagator()


class LiveSpan:
    """A recorded span, current (the parent of spans started inside it) while entered."""

    __slots__ = ("_span", "_token")

    def __init__(self, span: trace.Span) -> None:
        self._span = span
        self._token: object = None

    def __enter__(self) -> LiveSpan:
        self._token = context.attach(trace.set_span_in_context(self._span))
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None = None,
        _error: BaseException | None = None,
        _traceback: TracebackType | None = None,
    ) -> None:
        if kind is not None:  # the class only: a message may quote what the caller sent
            self._span.set_status(Status(StatusCode.ERROR, kind.__name__))
        context.detach(self._token)  # type: ignore[arg-type]
        self._span.end()

    def set(self, key: str, value: Attribute) -> None:
        """Add an attribute."""
        self._span.set_attribute(key, value)


class Recorder:
    """This process's tracer and exporter."""

    def __init__(self, options: Options) -> None:
        exporter = OTLPSpanExporter(
            endpoint=options.endpoint, headers=dict(options.headers), timeout=options.timeout_s
        )
        self.provider = TracerProvider(
            resource=Resource.create({"service.name": options.service_name}),
            sampler=ParentBased(TraceIdRatioBased(options.sample_ratio)),
        )
        self.provider.add_span_processor(BatchSpanProcessor(exporter))
        self.tracer = self.provider.get_tracer("govgate")
        log.info("tracing: spans go to %s", options.endpoint)

    def span(
        self,
        name: str,
        attributes: Mapping[str, Attribute] | None,
        parent: Mapping[str, str] | None,
        *,
        root: bool,
    ) -> LiveSpan | None:
        """A new span; its parent is the caller's `traceparent` in `parent` if it has one.
        None for a child with no recorded span above it (a trace not sampled, or work outside
        a request): the SDK would build a span only to drop it, at ~20 µs each."""
        above = None
        if parent is not None:
            if "traceparent" in parent:
                above = _PROPAGATOR.extract(parent)
        elif not root and not trace.get_current_span().is_recording():
            return None
        return LiveSpan(self.tracer.start_span(name, context=above, attributes=attributes))

    def note(self, key: str, value: Attribute) -> None:
        """Add an attribute to the span in progress."""
        trace.get_current_span().set_attribute(key, value)

    def shutdown(self) -> None:
        """Send what is buffered and stop the exporter's thread."""
        self.provider.shutdown()
