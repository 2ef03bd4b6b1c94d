"""The fuzz tests' side of the wire: send a request, check what every answer must be, and count
the audit records it left.

Every request goes out with a plain `X-Request-Id` of our own (`fz<n>`), which the gateway keeps
as the prefix of the id it assigns (`fz<n>.<its own>`), so a request's records can be found even
when no answer came back. The ledger reads the audit store's new rows after each example and
requires exactly one record per request that is not a probe, and no record of anything else.
"""

from __future__ import annotations

import itertools
import json
import re
import socket
import sqlite3
import time
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "DOCUMENTED_503",
    "Exchange",
    "FuzzGateway",
    "Ledger",
    "Violation",
    "check_exchange",
    "is_probe",
    "leaks",
    "raw_http",
    "records_of",
]


class Violation(AssertionError):
    """A property every answer must have did not hold (the message says which, and shows it)."""


#: 503s that docs/security.md and docs/gateway.md document; any other 5xx is a defect.
DOCUMENTED_503 = frozenset({"AUDIT_UNAVAILABLE", "OVERLOADED", "RATE_LIMIT_UNAVAILABLE"})

#: What must never reach a client: Python's own words, its type names, internal module paths.
#: (Refusals may cite docs pages such as `docs/gateway.md`, hence the lookahead.)
_LEAKS = re.compile(
    r"Traceback \(most recent call last\)|File \"[^\"]*\", line \d+"
    r"|\b(?:Type|Value|Key|Attribute|Index|Runtime|Assertion|Overflow|Recursion|ZeroDivision"
    r"|Unicode(?:En|De)code|NotImplemented|Lookup|Name)Error\b"
    r"|\bNoneType\b|<class '|object at 0x[0-9a-f]+|\bobject has no attribute\b"
    r"|\binvalid literal for int\(\)|\bunexpected keyword argument\b|\bnot subscriptable\b"
    r"|\bpositional arguments? but\b|\b__init__\(\)"
    r"|\b(?:gateway|resolvers|policies|sources|strawberry|graphql|starlette|uvicorn|sqlalchemy"
    r"|aiosqlite|asyncpg|asyncmy|orjson|jwt|casbin)\.(?!md\b)[a-z_]+"
    r"|\.py\b|site-packages|sqlite3\.|\(Background on this error"
)


def leaks(text: str) -> str | None:
    """The first internal detail `text` shows (None when it shows none)."""
    found = _LEAKS.search(text)
    return found.group(0) if found else None


def is_probe(method: str, path: str, headers: httpx.Headers) -> bool:
    """Requests the gateway answers without recording them (docs/security.md, "Every request
    leaves one record"): GET/HEAD of the health checks, static files and the GraphiQL page."""
    if method not in {"GET", "HEAD"}:
        return False
    page = path == "/graphql" and "text/html" in headers.get("accept", "")
    return path in {"/healthz", "/readyz"} or path.startswith("/static/") or page


@dataclass
class Exchange:
    """One request sent and what came back (`response` None when the connection broke)."""

    method: str
    path: str
    prefix: str
    headers: httpx.Headers
    content: bytes
    response: httpx.Response | None = None
    error: str | None = None
    #: Whether our own plain `X-Request-Id` (the prefix) was sent.
    plain_id: bool = True

    @property
    def sent_path(self) -> str:
        """The path as it went out (the client removes `..` segments, as browsers do)."""
        if self.response is None:
            return self.path
        return self.response.request.url.path

    @property
    def request_id(self) -> str | None:
        """The id the gateway gave the request (its `X-Request-Id`)."""
        return self.response.headers.get("x-request-id") if self.response is not None else None

    def body(self) -> Any:
        """The answer's JSON (None when it is not JSON)."""
        if self.response is None or not self.response.content:
            return None
        try:
            return json.loads(self.response.content)
        except ValueError:
            return None

    def describe(self) -> str:
        """The exchange, short enough to read in a failure."""
        sent = self.content[:600].decode("utf-8", "backslashreplace")
        got = "no answer: " + (self.error or "?")
        if self.response is not None:
            got = (
                f"{self.response.status_code} {dict(self.response.headers)}\n"
                + self.response.content[:1500].decode("utf-8", "backslashreplace")
            )
        return f"{self.method} {self.path} {dict(self.headers)}\n{sent}\n-> {got}"


def check_exchange(exchange: Exchange) -> None:
    """What every answer must be: no 5xx but the documented 503s, JSON (but for pages and HEAD)
    with its request id, and nothing internal in the body or a header."""
    response = exchange.response
    if response is None:
        raise Violation(
            f"the gateway closed the connection without an answer:\n{exchange.describe()}"
        )
    status = response.status_code
    body = exchange.body()
    code = None
    if isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"]:
        first = body["errors"][0]
        code = (first.get("extensions") or {}).get("code") if isinstance(first, dict) else None
    if status >= 500 and not (status == 503 and code in DOCUMENTED_503):
        raise Violation(f"an undocumented {status}:\n{exchange.describe()}")
    request_id = response.headers.get("x-request-id")
    if not request_id:
        raise Violation(f"an answer without X-Request-Id:\n{exchange.describe()}")
    if exchange.plain_id and not request_id.startswith(exchange.prefix + "."):
        raise Violation(
            f"the request id {request_id!r} lost the client's prefix "
            f"{exchange.prefix!r}:\n{exchange.describe()}"
        )
    page = response.headers.get("content-type", "").startswith("text/html")
    static = exchange.sent_path.startswith("/static/") and status == 200
    if exchange.method != "HEAD" and not page and not static:
        if response.headers.get("content-type") != "application/json" or body is None:
            raise Violation(f"an answer that is not JSON:\n{exchange.describe()}")
        for error in _errors_of(body):
            extensions = error.get("extensions") if isinstance(error, dict) else None
            if (
                not isinstance(error, dict)
                or not isinstance(error.get("message"), str)
                or not isinstance(extensions, dict)
                or not extensions.get("code")
            ):
                raise Violation(f"an error without message and code:\n{exchange.describe()}")
            if extensions["code"] in {"INTERNAL_SERVER_ERROR", "SOURCE_UNAVAILABLE"}:
                raise Violation(f"a masked crash ({extensions['code']}):\n{exchange.describe()}")
    text = response.content.decode("utf-8", "replace") if not static else ""
    for name, value in response.headers.items():
        text += f"\n{name}: {value}"
    leaked = leaks(text)
    if leaked is not None:
        raise Violation(f"the answer shows {leaked!r}:\n{exchange.describe()}")


def _errors_of(body: Any) -> list[Any]:
    results = body if isinstance(body, list) else [body]
    errors: list[Any] = []
    for result in results:
        if isinstance(result, dict) and isinstance(result.get("errors"), list):
            errors += result["errors"]
    return errors


@dataclass
class Ledger:
    """The audit store's records, read as they are appended (by SQLite's row id: each worker
    numbers its own chain's records from 1, the row id orders them all)."""

    path: Path
    seen: int = 0
    #: Request ids of records read but not yet matched to an exchange.
    pending: Counter[str] = field(default_factory=Counter)

    def read_new(self) -> list[dict[str, Any]]:
        """The records appended since the last call."""
        with closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)) as db:
            rows = db.execute(
                "SELECT rowid, content FROM audit_log WHERE rowid > ? ORDER BY rowid", (self.seen,)
            ).fetchall()
        if rows:
            self.seen = rows[-1][0]
        return [json.loads(content) for _, content in rows]

    def settle(self, exchanges: list[Exchange], *, wait_s: float = 5.0) -> None:
        """Check that each exchange left exactly one record (none for a probe) and that
        nothing else was recorded. An answered request was recorded before its answer was
        released (found by the id it carries); a broken connection's record may still be on
        its way (found by our prefix), hence the wait."""
        expected = [
            e
            for e in exchanges
            if not (e.response is not None and is_probe(e.method, e.sent_path, e.headers))
        ]
        deadline = time.monotonic() + wait_s
        while True:
            for record in self.read_new():
                self.pending[str(record["requestId"])] += 1
            counts = {id(e): self._count(e) for e in expected}
            if all(counts.values()) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        wrong = [e for e in expected if counts[id(e)] != 1]
        for exchange in expected:  # what remains is recorded for no request of ours
            for key in self._keys(exchange):
                del self.pending[key]
        extra = sorted(self.pending)
        self.pending.clear()
        if wrong or extra:
            shown = "\n\n".join(f"{counts[id(e)]} records of\n{e.describe()}" for e in wrong)
            raise Violation(
                f"every request must leave one audit record:\n{shown}\n"
                f"records of no request sent: {extra}"
            )

    def _keys(self, exchange: Exchange) -> list[str]:
        """The request ids in `pending` that belong to `exchange`."""
        if exchange.request_id is not None:
            return [exchange.request_id] if exchange.request_id in self.pending else []
        return [key for key in self.pending if key.startswith(exchange.prefix + ".")]

    def _count(self, exchange: Exchange) -> int:
        return sum(self.pending[key] for key in self._keys(exchange))


def _header_value(value: bytes) -> bytes:
    """`value` as HTTP lets a client send it (RFC 9110 5.5: no control characters but tab, no
    whitespace at either end); other odd bytes (obs-text, 0x80-0xFF) stay."""
    value = bytes(b for b in value if (b >= 0x20 and b != 0x7F) or b == 0x09)
    return value.strip(b" \t")


class FuzzGateway:
    """A live gateway under fuzzing: its address, an HTTP client, and its audit ledger."""

    def __init__(self, url: str, audit_db: Path) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=30)
        self.ledger = Ledger(audit_db)
        self._ids = itertools.count(1)
        self.ledger.read_new()  # start-up records (none expected) are not ours

    def close(self) -> None:
        """Close the client."""
        self.http.close()

    def send(
        self,
        method: str,
        path: str,
        *,
        headers: list[tuple[bytes, bytes]] | None = None,
        content: bytes = b"",
        request_id: bytes | None = None,
    ) -> Exchange:
        """Send one request with our own `X-Request-Id` (or `request_id`, verbatim)."""
        prefix = f"fz{next(self._ids)}"
        sent = [(b"X-Request-Id", request_id if request_id is not None else prefix.encode())]
        sent += headers or []
        sent = [(name, _header_value(value)) for name, value in sent]
        exchange = Exchange(
            method, path, prefix, httpx.Headers(sent), content, plain_id=request_id is None
        )
        try:
            exchange.response = self.http.request(method, path, headers=sent, content=content)
        except httpx.HTTPError as error:
            exchange.error = f"{type(error).__name__}: {error}"
        return exchange


def raw_http(url: str, request: bytes, *, wait_s: float = 3.0, rcvbuf: int | None = None) -> bytes:
    """Send `request` as it is on a new connection to the gateway at `url`; what came back
    within `wait_s` (or until the gateway closed the connection)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.socket() as connection:
        if rcvbuf is not None:
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        connection.settimeout(wait_s)
        connection.connect((host, int(port)))
        connection.sendall(request)
        received = b""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                chunk = connection.recv(65_536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            received += chunk
    return received


def records_of(
    audit_db: Path, prefix: str, *, wait_s: float = 0.0, exact: bool = False
) -> list[dict[str, Any]]:
    """The audit records of requests sent with the plain `X-Request-Id` `prefix` (or, `exact`,
    of the request whose id is `prefix`), waiting up to `wait_s` for at least one."""
    deadline = time.monotonic() + wait_s
    while True:
        with closing(sqlite3.connect(f"file:{audit_db}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT content FROM audit_log").fetchall()
        found = [
            r
            for (text,) in rows
            if (rid := str((r := json.loads(text))["requestId"])) == prefix
            or (not exact and rid.startswith(prefix + "."))
        ]
        if found or time.monotonic() >= deadline:
            return found
        time.sleep(0.05)
