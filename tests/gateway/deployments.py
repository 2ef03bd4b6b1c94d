"""Shipped deployment files made servable in a test folder, and `govgate serve` run on them.

`adjusted()` keeps a file's every setting but the places: the four sources become the seeded
SQLite files, the audit store and signing keys move into the test's folder, the catalogue is
the repository's, and the ports are free ones. `serving()` runs `govgate serve` in a process
group of its own and kills the whole group afterwards, workers included: a server that never
answers fails its test instead of holding the suite's pipes open.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from gateway.identity.dev_keys import dev_signing_key
from tests.gateway.conftest import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
EXAMPLE = DEPLOY / "govgate.example.toml"
SOURCE_NAMES = ("persons", "entities", "land", "licenses")


@dataclass(frozen=True, slots=True)
class Deployment:
    """An adjusted deployment file and where it serves."""

    config: Path
    url: str
    metrics_url: str


def adjusted(
    shipped: Path,
    folder: Path,
    seeded: Path,
    *,
    audit_url: str | None = None,
    keys: Path | None = None,
    catalog: Path | None = None,
) -> Deployment:
    """`shipped` rewritten into `folder` to serve the seeded data on free ports."""
    dev_signing_key(seeded)  # writes the public half the example names
    catalog = catalog or ROOT / "catalog" / "guangzhou.yaml"
    port, metrics_port = free_port(), free_port()
    places: dict[tuple[str, str], str | int] = {
        ("sources", name): f"sqlite+aiosqlite:///{seeded / name}.db" for name in SOURCE_NAMES
    }
    places |= {
        ("audit", "url"): audit_url or f"sqlite+aiosqlite:///{folder / 'audit.db'}",
        ("signing", "keys"): str(keys or folder / "keys"),
        ("policy", "catalog"): str(catalog),
        ("policy", "rules"): str(catalog.with_name(catalog.stem + ".rules.csv")),
        ("server", "host"): "127.0.0.1",
        ("server", "port"): port,
        ("metrics", "listen"): f"127.0.0.1:{metrics_port}",
    }
    table, lines, tables = "", [], set()
    for shipped_line in shipped.read_text("utf-8").splitlines():
        header = re.fullmatch(r"\[([a-z_.]+)\]\s*", shipped_line)
        if header:
            table = header.group(1)
            tables.add(table)
        key = re.match(r"([a-z_]+)\s*=", shipped_line)
        line = shipped_line
        if key and (table, key.group(1)) in places:
            value = places.pop((table, key.group(1)))
            line = f"{key.group(1)} = " + (str(value) if isinstance(value, int) else f'"{value}"')
        lines.append(line.replace("../data/", f"{seeded}/"))
    for (missing, name), value in places.items():  # settings the file leaves to defaults
        if missing in {"metrics", "policy"} and missing not in tables:
            text = value if isinstance(value, int) else f'"{value}"'
            lines.append(f"\n[{missing}]\n{name} = {text}")
    config = folder / shipped.name
    config.write_text("\n".join(lines) + "\n", "utf-8")
    return Deployment(config, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}")


def govgate() -> str:
    """The `govgate` command of this environment."""
    return shutil.which("govgate") or str(Path(sys.executable).with_name("govgate"))


@contextmanager
def serving(
    deployment: Deployment, *extra: str, deadline: float = 60, stderr: Path | None = None
) -> Iterator[str]:
    """`govgate serve --config FILE ...` in its own process group; its URL once /healthz is 200.

    However it ends, the whole group (the server and every worker it started) is killed.
    `stderr` names a file for the server's log (else it is read only to explain a failure).
    """
    with ExitStack() as files:
        sink = files.enter_context(stderr.open("wb")) if stderr else subprocess.PIPE
        process = subprocess.Popen(
            [govgate(), "serve", "--config", str(deployment.config), *extra],
            stdout=subprocess.DEVNULL, stderr=sink, start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    try:
        give_up = time.monotonic() + deadline
        while True:
            if process.poll() is not None or time.monotonic() > give_up:
                _kill_group(process)
                output = process.communicate(timeout=10)[1] or b""
                log = (stderr.read_bytes() if stderr else output).decode(errors="replace")
                raise RuntimeError(f"govgate serve did not answer /healthz:\n{log[-3000:]}")
            try:
                if httpx.get(f"{deployment.url}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        yield deployment.url
    finally:
        _stop_group(process)


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the group, wait up to 20 s, then SIGKILL whatever is left of it."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.communicate(timeout=20)
    _kill_group(process)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
