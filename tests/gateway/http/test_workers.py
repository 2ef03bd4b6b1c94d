"""Many gateway processes, one policy and one audit chain: a reload through one process is
answered by every process within 2 seconds (Art. 19), over PostgreSQL LISTEN/NOTIFY and over
SQLite polling; `govgate serve --workers N` runs them."""

from __future__ import annotations

import shutil
import time
from typing import TYPE_CHECKING

import httpx
import pytest
from click.testing import CliRunner

from gateway.cli import main
from policies.catalog import SHIPPED_CATALOG
from tests.gateway.deployments import EXAMPLE, Deployment, adjusted, serving

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

#: TH-CA may not read a person's phone until the catalogue grants it to civil affairs.
QUERY = "{ persons(first: 1) { edges { node { phone } } } }"
BEFORE = "phone: {sharing: conditional, duties: [household-registration, public-security]}"
AFTER = ("phone: {sharing: conditional, duties: [household-registration, public-security, "
         "civil-affairs]}")  # fmt: skip


def deployment(folder: Path, seeded: Path, audit_url: str, keys: Path | None = None) -> Deployment:
    """The example deployment: the seeded sources, an editable catalogue copy, `audit_url`,
    and the gateway signing keys in `keys` (every machine of a deployment holds the same)."""
    shutil.copy(SHIPPED_CATALOG, folder / "catalog.yaml")
    shutil.copy(SHIPPED_CATALOG.with_name("guangzhou.rules.csv"), folder / "catalog.rules.csv")
    return adjusted(EXAMPLE, folder, seeded, audit_url=audit_url, keys=keys,
                    catalog=folder / "catalog.yaml")  # fmt: skip


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
        reload_and_follow(config_one.config, [one, two], token_for)


def test_two_workers_follow_a_reload_through_either_on_sqlite(
    seeded: Path, tmp_path: Path, token_for: Callable[[str], str]
) -> None:
    config = deployment(tmp_path, seeded, f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}")
    with serving(config, "--workers", "2") as url:
        reload_and_follow(config.config, [url], token_for)
    result = CliRunner().invoke(main, ["audit", "verify", "--config", str(config.config)])
    assert result.exit_code == 0, result.output


@pytest.mark.postgres
def test_two_workers_share_one_audit_chain_on_postgresql(
    postgres_url: str, seeded: Path, tmp_path: Path, token_for: Callable[[str], str]
) -> None:
    config = deployment(tmp_path, seeded, postgres_url)
    with serving(config, "--workers", "2") as url:
        reload_and_follow(config.config, [url], token_for)
        sent = 6 + 1 + 12  # the requests reload_and_follow made
    result = CliRunner().invoke(main, ["audit", "verify", "--config", str(config.config)])
    assert result.exit_code == 0, result.output
    assert f"intact: {sent} records" in result.output
