"""Count the SQL statements a server sends to PostgreSQL: a TCP proxy that reads the wire protocol.

Used by bench/peer_run.py for the "SQL per request" figures. PostgreSQL's own per-statement
counters (`pg_stat_statements`) need the library in `shared_preload_libraries`, that is a server
restart, which a shared database server does not get for a benchmark. So a server under test is
pointed at this proxy instead of PostgreSQL while a few requests are sent one at a time: every
frontend message is read (protocol 3.0, https://www.postgresql.org/docs/15/protocol-message-formats.html),
and each statement executed is counted with its text:

* a simple query (`Q`) counts once per statement in its text (split on `;`);
* the extended protocol counts an `Execute` (`E`) of a portal, whose text comes from the `Bind`
  (`B`) that made the portal and the `Parse` (`P`) of its prepared statement, named or not.
  Preparing a statement (Parse, Describe, Sync, as asyncpg and node-postgres do once per
  connection) is not executing it and does not count.

The proxy answers an SSLRequest or GSSENCRequest itself with 'N' (no encryption), so the
conversation stays readable; clients with sslmode=prefer (asyncpg's default) go on in plain
text on the loopback. It runs in a thread of its own; `counts()` returns what was seen so far.
"""

from __future__ import annotations

import asyncio
import re
import struct
import threading
from collections import Counter

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
PROTOCOL_3 = 196608

#: Transaction control and session settings: round trips, but not reading or writing data.
_CONTROL = re.compile(r"^\s*(begin|start|commit|end|rollback|savepoint|release|set|reset|"
                      r"discard|show|deallocate|listen|unlisten)\b", re.IGNORECASE)  # fmt: skip


def is_control(text: str) -> bool:
    """Whether a statement is transaction control or a session setting (not data)."""
    lower = text.lower()
    return bool(_CONTROL.match(text)) or ("set_config(" in lower and " from " not in lower)


def _cstring(payload: bytes, start: int) -> tuple[str, int]:
    end = payload.index(b"\0", start)
    return payload[start:end].decode("utf-8", "replace"), end + 1


class _Session:
    """The frontend side of one connection: its prepared statements and portals."""

    def __init__(self, counter: Counter[str]) -> None:
        self.counter = counter
        self.buffer = b""
        self.started = False
        self.statements: dict[str, str] = {}
        self.portals: dict[str, str] = {}

    def feed(self, data: bytes) -> bytes | None:
        """Take bytes from the client; returns a reply to send back instead of forwarding
        (the 'N' to an encryption request), or None to forward `data` unchanged."""
        self.buffer += data
        reply = None
        while True:
            if not self.started:
                if len(self.buffer) < 8:
                    return reply
                length, code = struct.unpack("!II", self.buffer[:8])
                if len(self.buffer) < length:
                    return reply
                self.buffer = self.buffer[length:]
                if code in (SSL_REQUEST, GSSENC_REQUEST):
                    reply = b"N"
                elif code == PROTOCOL_3:
                    self.started = True
                continue
            if len(self.buffer) < 5:
                return reply
            kind = self.buffer[:1]
            (length,) = struct.unpack("!I", self.buffer[1:5])
            if len(self.buffer) < 1 + length:
                return reply
            payload = self.buffer[5 : 1 + length]
            self.buffer = self.buffer[1 + length :]
            self._message(kind, payload)

    def _message(self, kind: bytes, payload: bytes) -> None:
        if kind == b"Q":
            text, _ = _cstring(payload, 0)
            for part in text.split(";"):
                if part.strip():
                    self.counter[" ".join(part.split())] += 1
        elif kind == b"P":
            name, at = _cstring(payload, 0)
            query, _ = _cstring(payload, at)
            self.statements[name] = query
        elif kind == b"B":
            portal, at = _cstring(payload, 0)
            statement, _ = _cstring(payload, at)
            self.portals[portal] = self.statements.get(statement, f"<statement {statement!r}>")
        elif kind == b"E":
            portal, _ = _cstring(payload, 0)
            text = self.portals.get(portal, f"<portal {portal!r}>")
            self.counter[" ".join(text.split())] += 1
        elif kind == b"C" and payload[:1] == b"S":  # Close a prepared statement
            name, _ = _cstring(payload, 1)
            self.statements.pop(name, None)


class StatementCounter:
    """A proxy on 127.0.0.1 (a free port) in front of PostgreSQL at `host`:`port`."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.port = 0
        self._counter: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sql-counter", daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> int:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the SQL-counting proxy did not start in 10 s")
        return self.port

    def stop(self) -> None:
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
            self._thread.join(timeout=10)

    async def _shutdown(self) -> None:
        """Close the listener and every connection, then end the loop (and its thread)."""
        if self._server is not None:
            self._server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loop.stop()

    def counts(self) -> Counter[str]:
        """Statements executed so far, by normalised text."""
        with self._lock:
            return Counter(self._counter)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        session = _Session(self._counter)

        async def client_to_server() -> None:
            while data := await reader.read(65536):
                with self._lock:
                    reply = session.feed(data)
                if reply is not None:  # an encryption request opens the connection: 8 bytes
                    writer.write(reply)
                    await writer.drain()
                    data = data[8:]
                if data:
                    up_writer.write(data)
                    await up_writer.drain()

        async def server_to_client() -> None:
            while data := await up_reader.read(65536):
                writer.write(data)
                await writer.drain()

        tasks = [asyncio.ensure_future(c) for c in (client_to_server(), server_to_client())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for task in tasks:
                task.cancel()
            for w in (writer, up_writer):
                w.close()
