"""Logs: one JSON object per line (or plain text), carrying the id of the request being answered.

The request id is the one the client gets in `X-Request-Id` and, for a masked error, in
`extensions.requestId`; gateway/http/middleware/audited.py binds it (`logged_as`) while it
answers the request, so every line logged meanwhile, by govgate or a library, names it.
`govgate serve` writes JSON (docs/gateway.md, "Observability"); `log_config` is also handed to
uvicorn so that its access and error lines, in every worker process, come out the same way.
"""

from __future__ import annotations

import json
import logging
import logging.config
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "JsonFormatter",
    "LogFormat",
    "TextFormatter",
    "WithoutQuery",
    "configure_logging",
    "current_request_id",
    "log_config",
    "logged_as",
]

LogFormat = Literal["json", "text"]

#: The id of the request this task is answering (None outside a request).
current_request_id: ContextVar[str | None] = ContextVar("govgate_request_id", default=None)

#: govgate's loggers: "govgate.*", and modules that log under their own name.
_OURS = ("govgate", "gateway", "policies", "resolvers", "sources")
#: The fields of uvicorn's access lines (its record's `args`), named for a log query.
_ACCESS_FIELDS = ("client", "method", "path", "httpVersion", "status")


@contextmanager
def logged_as(request_id: str) -> Iterator[None]:
    """Within the block, log lines name `request_id`."""
    token = current_request_id.set(request_id)
    try:
        yield
    finally:
        current_request_id.reset(token)


def _request_id(record: logging.LogRecord) -> str | None:
    # `extra={"request_id": ...}` wins: a line about another request than the current one.
    given = getattr(record, "request_id", None)
    return given if isinstance(given, str) else current_request_id.get()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: `time` (ISO 8601 UTC), `level`, `logger`, `message`, and
    `request_id` and `exc` (the traceback) when there are any."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = _request_id(record)
        if request_id is not None:
            line["request_id"] = request_id
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            line.update(zip(_ACCESS_FIELDS, args, strict=True))
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class WithoutQuery(logging.Filter):
    """uvicorn's access lines without the URL's query string: a `GET /graphql` carries its
    variables there (ID numbers, names), which belong in no log; the audit record keeps what
    was asked (docs/security.md, "Trusted documents")."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            path, mark, _ = args[2].partition("?")
            if mark:
                record.args = (args[0], args[1], f"{path}?…", args[3], args[4])
        return True


class TextFormatter(logging.Formatter):
    """`time level logger: message [request id]`, for a person reading a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        request_id = _request_id(record)
        if request_id is None:
            return text
        first, newline, rest = text.partition("\n")  # after the message, before a traceback
        return f"{first} [request {request_id}]{newline}{rest}"


def log_config(log_format: LogFormat) -> dict[str, Any]:
    """A `logging.config.dictConfig` for govgate and uvicorn: everything on stderr, govgate's
    own loggers at INFO, libraries at WARNING (uvicorn's at its `log_level`)."""
    formatter = JsonFormatter if log_format == "json" else TextFormatter
    handler = {"handlers": ["stderr"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        # uvicorn sets `use_colors` on formatters by these names when asked to; govgate never
        # asks, but the names must be there.
        "formatters": {
            "default": {"()": f"{__name__}.{formatter.__name__}"},
            "access": {"()": f"{__name__}.{formatter.__name__}"},
        },
        "filters": {"without_query": {"()": f"{__name__}.WithoutQuery"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            **{name: {**handler, "level": "INFO"} for name in _OURS},
            "uvicorn": {**handler, "level": "INFO"},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {**handler, "level": "INFO", "filters": ["without_query"]},
            "py.warnings": {**handler, "level": "WARNING"},
        },
        "root": {"handlers": ["stderr"], "level": "WARNING"},
    }


def configure_logging(*, json: bool) -> None:
    """Log as `log_config` says, in JSON lines or plain text; warnings go to the log too."""
    logging.config.dictConfig(log_config("json" if json else "text"))
    logging.captureWarnings(True)
