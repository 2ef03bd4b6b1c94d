"""A request's JSON body: bounded in size, strict JSON, and text that is valid Unicode.

`json.loads` accepted lone UTF-16 surrogates, both as `\\ud800` escapes and as their raw UTF-8
bytes (ED A0 80), and NaN, Infinity and 1e400. A surrogate in any string of the body (the
operation name, a variable's key or value, a filter argument) then reached the request's audit
record, which could not be encoded, and failed every other request in its group commit, of
other agencies too (docs/security.md, "Input that is not valid text"). So the body is read with
orjson, which refuses invalid UTF-8, lone surrogates and non-finite numbers in one pass (and
is faster: 27 us against 54 us for json.loads on a 20 kB body, 174 us with a walk for
surrogates; bench in the commit message). A refusal is diagnosed with the standard library,
only then, to say what was wrong and where. GraphQL string literals in the query text are
checked by the GraphQL parser, which refuses `"\\ud800"` as an invalid escape.

    BodyError                       400, or 413 for the size
    ├── BodyTooLargeError           QUERY_TOO_COMPLEX (413): larger than max_body_bytes
    ├── NotJsonError                BAD_REQUEST: not JSON at all
    └── InvalidTextError            BAD_USER_INPUT: text that is not Unicode, numbers JSON
                                    cannot carry
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

import orjson

from gateway.errors import WireError

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = [
    "BodyError",
    "BodyTooLargeError",
    "InvalidTextError",
    "NotJsonError",
    "parse_json",
    "read_body",
]


class BodyError(WireError):
    """The body cannot be used; answered 400 with the code and the message."""

    code = "BAD_REQUEST"
    status_default = 400


class BodyTooLargeError(BodyError):
    """Past `max_body_bytes`."""

    code = "QUERY_TOO_COMPLEX"
    status_default = 413


class NotJsonError(BodyError):
    """Not JSON."""


class InvalidTextError(BodyError):
    """JSON, but with text that is not valid Unicode or a number JSON cannot carry."""

    code = "BAD_USER_INPUT"


async def read_body(request: Request, *, max_bytes: int) -> bytes:
    """The whole body, never holding more than `max_bytes` of it; BodyTooLargeError past it.

    A client that goes away meanwhile raises starlette's ClientDisconnect (the caller records
    it); one that is too slow is cut off by the request's body deadline.
    """
    too_large = BodyTooLargeError(
        f"The request body is larger than {max_bytes} bytes; send smaller queries."
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise too_large
    return bytes(body)


def parse_json(body: bytes) -> object:
    """The JSON value of `body`; BodyError (a sentence saying what to fix) when unusable."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _diagnose(body) from None


_NOT_JSON = (
    'The request body is not JSON; send {"query": "..."} with Content-Type: application/json.'
)
_SEND_TEXT = (
    "send UTF-8 JSON whose strings hold whole characters (a \\uD800-\\uDFFF escape only as "
    "one half of a surrogate pair). Nothing was run."
)


def _diagnose(body: bytes) -> BodyError:
    """Why orjson refused `body`, in words (the slow path: only for refused bodies)."""
    try:
        text = body.decode("utf-8")  # strict: refuses encoded surrogates and non-UTF-8 bytes
    except UnicodeDecodeError as error:
        return InvalidTextError(
            f"The request body is not valid UTF-8 text (byte {error.start} cannot be decoded: "
            f"an encoded surrogate, or another encoding such as GBK); {_SEND_TEXT}"
        )
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except _NumberError as error:
        return InvalidTextError(
            f"The request body holds {error}, which JSON cannot carry; send finite numbers "
            "within the range of a double. Nothing was run."
        )
    except (ValueError, RecursionError):
        return NotJsonError(_NOT_JSON)
    where = _lone_surrogate(value)
    if where is not None:
        return InvalidTextError(
            f"The request body holds a lone UTF-16 surrogate in {where}, which is not a "
            f"character; {_SEND_TEXT}"
        )
    return NotJsonError(_NOT_JSON)  # what orjson refuses beyond these: nesting past 1024


class _NumberError(ValueError):
    pass


def _no_constant(name: str) -> float:
    raise _NumberError(name)


def _finite(spelled: str) -> float:
    number = float(spelled)
    if not math.isfinite(number):
        raise _NumberError(f"the number {spelled[:40]}, too large for a double")
    return number


def _lone_surrogate(value: object) -> str | None:
    """Where the first string holding a lone surrogate is (`operationName`, a key of
    `variables`, ...), or None. Iterative: a deep body must not exhaust the stack."""
    stack: list[tuple[str, object]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str) and not _encodable(item):
            return f"`{path}`" if path else "the body"
        if isinstance(item, dict):
            for key, member in item.items():
                if not _encodable(key):
                    return f"a key of `{path}`" if path else "a key of the body"
                stack.append((f"{path}.{key[:40]}" if path else key[:40], member))
        elif isinstance(item, list):
            stack.extend((f"{path}[{index}]", member) for index, member in enumerate(item))
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
