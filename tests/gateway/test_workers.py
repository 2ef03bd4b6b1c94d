"""Many gateway processes, one policy and one audit chain: a reload through one process is
answered by every process within 2 seconds (Art. 19), over PostgreSQL LISTEN/NOTIFY and over
SQLite polling; `govgate serve --workers N` runs them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from click.testing import CliRunner

from gateway.cli import main
from gateway.keys import dev_signing_key
from policies.catalog import SHIPPED_CATALOG
from tests.gateway.conftest import free_port

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "govgate.example.toml"
#: TH-CA may not read a person's phone until the catalogue grants it to civil affairs.
QUERY = "{ persons(first: 1) { edges { node { phone } } } }"
BEFORE = "phone: {sharing: conditional, duties: [household-registration, public-security]}"
AFTER = ("phone: {sharing: conditional, duties: [household-registration, public-security, "
         "civil-affairs]}")  # fmt: skip


def deployment(folder: Path, seeded: Path, audit_url: str, keys: Path | None = None) -> Path:
    """A deployment file: the seeded sources, an editable catalogue copy, `audit_url`, and the
    gateway signing keys in `keys` (every machine of a deployment holds the same keys)."""
    key = dev_signing_key(seeded)
    (folder / "signing.pem").write_text(key.public_pem(), "utf-8")
    shutil.copy(SHIPPED_CATALOG, folder / "catalog.yaml")
    shutil.copy(SHIPPED_CATALOG.with_name("guangzhou.rules.csv"), folder / "catalog.rules.csv")
    text = EXAMPLE.read_text("utf-8").replace("../data/", f"{seeded}/")
    text = text.replace("../catalog/guangzhou.yaml", "catalog.yaml")
    text = text.replace("../catalog/guangzhou.rules.csv", "catalog.rules.csv")
    text = text.replace(f"sqlite+aiosqlite:///{seeded}/audit.db", audit_url)
    text = text.replace(f"{seeded}/keys/gateway", str(keys or folder / "keys"))
    text = text.replace('# kid = "path/to/public-key.pem"', f'{key.kid} = "signing.pem"')
    text = text.replace("port = 8000", f"port = {free_port()}")
    config = folder / "govgate.toml"
    config.write_text(text, "utf-8")
    return config


@contextmanager
def serving(config: Path, *extra: str) -> Iterator[str]:
    """`govgate serve --config FILE ...` as a subprocess; its base URL once it answers."""
    port = next(line for line in config.read_text("utf-8").splitlines()
                if line.startswith("port = ")).split("= ")[1]  # fmt: skip
    govgate = shutil.which("govgate") or str(Path(sys.executable).with_name("govgate"))
    process = subprocess.Popen([govgate, "serve", "--config", str(config), *extra],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            process.kill()
            raise RuntimeError(process.communicate()[1].decode()[-2000:])
        yield url
    finally:
        process.terminate()
        process.communicate(timeout=30)


def phones(url: str, token: str, times: int) -> list[bool]:
    """For `times` requests as TH-CA: whether each was allowed to read phone."""
    out = []
    for _ in range(times):
        headers = {"Authorization": f"Bearer {token}"}
        answer = httpx.post(f"{url}/graphql", json={"query": QUERY}, headers=headers, timeout=30)
        out.append("errors" not in answer.json())
    return out


def reload_and_follow(config: Path, urls: list[str], token_for: Callable[[str], str]) -> None:
    """Reload through the first URL; every URL (and every worker behind it) answers the new
    grants within 2 seconds."""
    th_ca = token_for("TH-CA")
    for url in urls:
        assert not any(phones(url, th_ca, 6)), "TH-CA reads phone before the change"
    catalog = config.with_name("catalog.yaml")
    catalog.write_text(catalog.read_text("utf-8").replace(BEFORE, AFTER, 1), "utf-8")
    answer = httpx.post(f"{urls[0]}/admin/policy/reload", timeout=60,
                        headers={"Authorization": f"Bearer {token_for('GZ-DATA')}"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.json()["changed"] is True
    time.sleep(2.0)
    for url in urls:
        assert all(phones(url, th_ca, 12)), f"{url} still refuses phone 2 s after the reload"


@pytest.mark.postgres
def test_a_reload_reaches_another_machine_through_postgresql_within_two_seconds(
    postgres_url: str, seeded: Path, tmp_path: Path, token_for: Callable[[str], str]
) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()
    # Two machines: each its own files, one shared audit and policy store.
    config_one = deployment(first, seeded, postgres_url, keys=tmp_path / "keys")
    config_two = deployment(second, seeded, postgres_url, keys=tmp_path / "keys")
    with serving(config_one) as one, serving(config_two) as two:
        reload_and_follow(config_one, [one, two], token_for)


def test_two_workers_follow_a_reload_through_either_on_sqlite(
    seeded: Path, tmp_path: Path, token_for: Callable[[str], str]
) -> None:
    config = deployment(tmp_path, seeded, f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}")
    with serving(config, "--workers", "2") as url:
        reload_and_follow(config, [url], token_for)
    result = CliRunner().invoke(main, ["audit", "verify", "--config", str(config)])
    assert result.exit_code == 0, result.output


@pytest.mark.postgres
def test_two_workers_share_one_audit_chain_on_postgresql(
    postgres_url: str, seeded: Path, tmp_path: Path, token_for: Callable[[str], str]
) -> None:
    config = deployment(tmp_path, seeded, postgres_url)
    with serving(config, "--workers", "2") as url:
        reload_and_follow(config, [url], token_for)
        sent = 6 + 1 + 12  # the requests reload_and_follow made
    result = CliRunner().invoke(main, ["audit", "verify", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert f"intact: {sent} records" in result.output
