"""JSON answers: `JsonAnswer` writes every JSON body the gateway sends, `error_response` the one
form of a refusal (a `WireError`).

Bodies are written by orjson (about a tenth of the standard library's time for an answer),
to the same JSON Starlette's `JSONResponse` writes: compact, UTF-8 with non-ASCII characters as
they are (not `\\u` escapes), keys in the order given. Where orjson would write something the
standard library refuses or writes otherwise, the standard library writes it, exactly as before:
dataclasses and datetimes (orjson would serialise them; here they stay a TypeError), keys that
are not text, integers past 64 bits, text with lone surrogates (refused, as before), nesting
past orjson's 254 levels. One difference remains, and cannot arise: orjson writes a float NaN or
infinity as `null`, where the standard library raises. Neither is ever in an answer: GraphQL
Float serialisation refuses non-finite values (a field error, on both the resolver and the plan
path), and nothing else in a body is a float. Numbers may be spelled differently (`1e-05` and
`1e-5`) but are the same numbers; a test compares the two writers on the gateway's answers.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import orjson
from starlette.responses import JSONResponse

if TYPE_CHECKING:
    from gateway.errors import WireError

__all__ = ["JsonAnswer", "error_response", "json_body"]

_OPTIONS = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME


def json_body(content: Any) -> bytes:
    """`content` as the gateway's JSON body (see the module's docstring)."""
    try:
        return orjson.dumps(content, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError is a TypeError: write it as Starlette does
        return json.dumps(
            content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
        ).encode("utf-8")


class JsonAnswer(JSONResponse):
    """Starlette's `JSONResponse`, its body written by `json_body`."""

    def render(self, content: Any) -> bytes:
        return json_body(content)


def error_response(error: WireError, request_id: str | None = None) -> JsonAnswer:
    """`error`'s body, status and headers; with `X-Request-Id` when the request has one."""
    headers = dict(error.headers)
    if request_id is not None:
        headers["X-Request-Id"] = request_id
    return JsonAnswer(error.body(), status_code=error.status, headers=headers)
