"""The peer benchmark's servers: govgate and PostGraphile in process groups, and their CPU.

Every server runs in a session (and process group) of its own, so that its workers are found,
measured, paused and stopped with it. `Group.stop_all()` stops every group still running
(SIGCONT, SIGTERM, then SIGKILL after 15 s); bench/peer_run.py calls it on exit, error and
SIGINT/SIGTERM, and bench/peer.sh stops any group listed in the pid file that survived a
killed runner.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, ClassVar

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int | str) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state is [0], pgrp [2], utime [11])."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def group_ticks(pgid: int) -> dict[int, int]:
    """pid -> user + system clock ticks, for every process of process group `pgid`."""
    ticks = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(entry)
            if fields is not None and int(fields[2]) == pgid:
                ticks[int(entry)] = int(fields[11]) + int(fields[12])
    return ticks


def backend_ticks(databases: tuple[str, ...]) -> dict[int, int]:
    """pid -> CPU ticks of the PostgreSQL backends connected to `databases` (their process
    title, as Debian's PostgreSQL sets it: "postgres: 15/main: USER DATABASE HOST(PORT) ...")."""
    ticks = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            title = Path(f"/proc/{entry}/cmdline").read_bytes().decode("utf-8", "replace")
        except OSError:
            continue
        if not title.startswith("postgres:"):
            continue
        words = title.replace("\0", " ").split()
        if not any(name in words for name in databases):
            continue
        fields = _stat(entry)
        if fields is not None:
            ticks[int(entry)] = int(fields[11]) + int(fields[12])
    return ticks


class BackendSampler(threading.Thread):
    """CPU of the PostgreSQL backends of `databases` over a run, sampled every 0.25 s: a
    backend that ends during the run (pgbench's, at its end) keeps what it used until its
    last sample, so at most a quarter of a second of it is lost."""

    def __init__(self, databases: tuple[str, ...]) -> None:
        super().__init__(daemon=True, name="backend-cpu")
        self.databases = databases
        self.first = backend_ticks(databases)
        self.last = dict(self.first)
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(0.25):
            self._sample()

    def _sample(self) -> None:
        for pid, ticks in backend_ticks(self.databases).items():
            self.first.setdefault(pid, 0)  # born during the run: all of its CPU counts
            self.last[pid] = ticks

    def stop(self) -> float:
        """Stop sampling; CPU seconds the backends used since the sampler was made."""
        self._halt.set()
        self.join(timeout=5)
        self._sample()
        return sum(self.last[pid] - self.first[pid] for pid in self.last) / CLK_TCK


def ticks_delta(before: dict[int, int], after: dict[int, int]) -> float:
    """CPU seconds between two snapshots (processes born meanwhile count whole; those gone
    meanwhile are lost: pools keep their connections, so few are)."""
    return sum(t - before.get(pid, 0) for pid, t in after.items()) / CLK_TCK


class Group:
    """A server in its own session; `pgid` is its leader's pid."""

    running: ClassVar[list[Group]] = []
    pid_file: ClassVar[Path | None] = None

    def __init__(
        self, name: str, command: list[str], *, url: str, cwd: Path, log: Path, workers: int,
        env: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        self.name = name
        self.url = url
        self.log = log
        self.workers = workers
        self.paused = False
        self.proc = subprocess.Popen(
            command, cwd=cwd, stdout=log.open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True, env=env,
        )  # fmt: skip
        self.pgid = self.proc.pid
        Group.running.append(self)
        self._write_pid_file()
        self.pids: set[int] = set()

    def _write_pid_file(self) -> None:
        if Group.pid_file is not None:
            lines = [f"{g.pgid} {g.name}" for g in Group.running]
            Group.pid_file.write_text("\n".join(lines) + "\n" if lines else "", "utf-8")

    def tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text("utf-8", "replace").splitlines()[-lines:])
        return ""

    def wait_ready(self, probe: Any, deadline_s: float, what_to_do: str) -> None:
        """Until `probe()` is true, the group has its workers and its CPU has settled."""
        deadline = time.monotonic() + deadline_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited (status {self.proc.returncode}) before it was ready. "
                    f"Last lines of {self.log}:\n{self.tail()}\n{what_to_do}"
                )
            with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
                # One worker serves in the leader itself; more are its children.
                expected = 1 if self.workers == 1 else self.workers + 1
                if probe() and len(group_ticks(self.pgid)) >= expected:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.name} was not ready within {deadline_s:.0f} s. Last lines of "
                    f"{self.log}:\n{self.tail()}\n{what_to_do}"
                )
            time.sleep(0.3)
        self.settle(deadline - time.monotonic())
        self.pids = set(group_ticks(self.pgid))

    def settle(self, within: float = 30.0) -> None:
        """Wait (at most `within` s) until the group uses under 2% of a core for a second:
        workers done starting, or requests in flight done after a run."""
        deadline = time.monotonic() + max(within, 1.0)
        last = group_ticks(self.pgid)
        while time.monotonic() < deadline:
            time.sleep(1.0)
            now = group_ticks(self.pgid)
            if ticks_delta(last, now) < 0.02:
                return
            last = now

    def cpu(self) -> dict[int, int]:
        return group_ticks(self.pgid)

    def restarted(self) -> bool:
        """Whether a process of the group has gone or come since it was ready (a worker the
        supervisor restarted: the figures after it include a cold start)."""
        return set(group_ticks(self.pgid)) != self.pids

    def pause(self) -> None:
        """SIGSTOP: the leader first, then its workers. uvicorn's supervisor pings each worker
        every 0.5 s and kills one that does not answer within 5 s; stopped first, it sends no
        ping to a stopped worker."""
        if self.proc.poll() is None and not self.paused:
            os.kill(self.pgid, signal.SIGSTOP)
            for pid in group_ticks(self.pgid):
                if pid != self.pgid:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGSTOP)
            self.paused = True

    def resume(self) -> None:
        """SIGCONT: the workers first (they answer a ping sent before the pause), then the
        leader a tenth of a second later."""
        if self.proc.poll() is None and self.paused:
            for pid in group_ticks(self.pgid):
                if pid != self.pgid:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGCONT)
            time.sleep(0.1)
            os.kill(self.pgid, signal.SIGCONT)
            self.paused = False

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pgid, signal.SIGCONT)  # a stopped process would not act on TERM
                os.killpg(self.pgid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pgid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        # Workers that outlived their leader (none should) go too.
        for _ in range(50):
            if not group_ticks(self.pgid):
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pgid, signal.SIGKILL)
            time.sleep(0.1)
        if self in Group.running:
            Group.running.remove(self)
            self._write_pid_file()

    @classmethod
    def stop_all(cls) -> None:
        for group in list(cls.running):
            group.stop()


def http_json(url: str, body: bytes | None = None, token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, body, headers, method="POST" if body else "GET")  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        return json.loads(answer.read())


def post_graphql(url: str, body: str, token: str | None = None) -> Any:
    """POST one request body; an HTTP error's JSON body is returned like an answer."""
    try:
        return http_json(f"{url}/graphql", body.encode(), token)
    except urllib.error.HTTPError as error:
        text = error.read().decode("utf-8", "replace")
        try:
            return json.loads(text)
        except ValueError:
            return {"errors": [{"message": f"HTTP {error.code}: {text[:300]}"}]}
