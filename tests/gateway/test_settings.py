"""Deployment files for `govgate serve --config`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gateway.keys import dev_signing_key, issue_token
from gateway.settings import ConfigError, Limits, load_settings
from tests.gateway.conftest import free_port

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "govgate.example.toml"


def deployment(tmp_path: Path, seeded: Path, extra: str = "") -> Path:
    key = dev_signing_key(seeded)
    (tmp_path / "signing.pem").write_text(key.public_pem(), "utf-8")
    text = EXAMPLE.read_text("utf-8").replace("../data/", f"{seeded}/")
    # Its own audit store and keys: a policy it publishes must not reach other test gateways.
    text = text.replace(f"{seeded}/audit.db", f"{tmp_path}/audit.db")
    text = text.replace(f"{seeded}/keys/gateway", f"{tmp_path}/keys")
    text = text.replace("../catalog/", f"{EXAMPLE.parents[1]}/catalog/")
    text = text.replace('# kid = "path/to/public-key.pem"', f'{key.kid} = "signing.pem"')
    path = tmp_path / "govgate.toml"
    path.write_text(text + extra, "utf-8")
    return path


def test_the_example_file_loads_with_paths_relative_to_itself() -> None:
    settings = load_settings(EXAMPLE)
    assert settings.sources["persons"].endswith(str(EXAMPLE.parents[1] / "data" / "persons.db"))
    assert settings.catalog == EXAMPLE.parents[1] / "catalog" / "guangzhou.yaml"
    assert settings.limits == Limits()
    assert settings.algorithms == ("EdDSA",)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("[limits]\n", "[limits]\nmax_depht = 3\n"),
            "'max_depht' is an unknown setting; the settings of \\[limits\\] are "
            "max_aliases, max_batch, max_body_bytes, max_cost, max_depth",
        ),
        (("port = 8000", 'port = "eight"'), "server.port must be an integer"),
        (('persons = "sqlite', 'people = "sqlite'), "'people' is not a source"),
        (("max_page_size = 100", "max_page_size = 0"), "limits.max_page_size must be at least 1"),
        (("[server]", "[server"), "cannot be read as TOML"),
    ],
)
def test_a_broken_deployment_file_says_what_to_change(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(EXAMPLE.read_text("utf-8").replace(*change, 1), "utf-8")
    with pytest.raises(ConfigError, match=message):
        load_settings(path)


def test_govgate_serve_runs_a_deployment_from_its_file(tmp_path: Path, seeded: Path) -> None:
    port = free_port()
    config = deployment(tmp_path, seeded)
    config.write_text(config.read_text("utf-8").replace("port = 8000", f"port = {port}"), "utf-8")
    govgate = shutil.which("govgate") or str(Path(sys.executable).with_name("govgate"))
    process = subprocess.Popen([govgate, "serve", "--config", str(config)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz")
                break
            except httpx.TransportError:
                time.sleep(0.2)
        token = issue_token(dev_signing_key(seeded), agency="GZ-PNR")
        answer = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            json={"query": "{ landParcels(first: 3) { edges { node { parcelCode } } } }"},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        assert len(answer["data"]["landParcels"]["edges"]) == 3, answer
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_govgate_serve_refuses_a_missing_file_with_a_sentence(tmp_path: Path) -> None:
    govgate = shutil.which("govgate") or str(Path(sys.executable).with_name("govgate"))
    result = subprocess.run([govgate, "serve", "--config", str(tmp_path / "nope.toml")],
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 2
    assert "no such file" in result.stderr
    assert "Traceback" not in result.stderr


def test_source_options_apply_to_every_source_and_per_source(tmp_path: Path, seeded: Path) -> None:
    extra = "\n[source_options.persons]\npool_size = 2\nstatement_timeout_ms = 800\n"
    text = (
        deployment(tmp_path, seeded)
        .read_text("utf-8")
        .replace("statement_timeout_ms = 5000", "statement_timeout_ms = 3000")
    )
    path = tmp_path / "options.toml"
    path.write_text(text + extra, "utf-8")
    options = load_settings(path).source_options
    assert (options["persons"].pool_size, options["persons"].statement_timeout_ms) == (2, 800)
    assert (options["land"].pool_size, options["land"].statement_timeout_ms) == (5, 3000)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "\n[source_options.people]\npool_size = 2\n",
            r"\[source_options.people\] names no source",
        ),
        ("\n[source_options.land]\npool_size = 0\n", "for land: pool_size must be 1 or more"),
        ("\n[source_options.land]\npoolsize = 3\n", "unknown setting"),
    ],
)
def test_bad_source_options_name_what_to_fix(
    tmp_path: Path, seeded: Path, extra: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(deployment(tmp_path, seeded, extra))


def test_the_mixed_deployment_file_serves_each_source_from_its_kind_of_database() -> None:
    mixed = load_settings(EXAMPLE.with_name("govgate.mixed.toml"))
    kinds = {name: url.split(":", 1)[0] for name, url in mixed.sources.items()}
    assert kinds == {
        "persons": "postgresql+asyncpg",
        "entities": "mysql+asyncmy",
        "land": "sqlite+aiosqlite",
        "licenses": "sqlite+aiosqlite",
    }
    assert mixed.audit_url.startswith("postgresql+asyncpg://")
    assert mixed.source_options["entities"].statement_timeout_ms == 5000
    assert mixed.source_options["persons"].statement_timeout_ms == 3000
    assert mixed.jwks_url is not None
