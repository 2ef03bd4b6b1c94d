"""Deployment files for `govgate serve --config`: every shipped one serves, and a mistake in
any table is refused with a sentence naming the key (never a traceback)."""

from __future__ import annotations

import dataclasses
import subprocess
from typing import TYPE_CHECKING

import httpx
import pytest

from gateway.http.app import Gateway
from gateway.identity.dev_keys import (
    DEV_PUBLIC_KEY_FILE,
    dev_signing_key,
    issue_token,
    public_key_id,
)
from gateway.settings import (
    ConfigError,
    Limits,
    ServerOptions,
    Settings,
    TracingOptions,
    load_settings,
)
from tests.gateway.deployments import DEPLOY, EXAMPLE, adjusted, govgate, serving

if TYPE_CHECKING:
    from pathlib import Path


def deployment(tmp_path: Path, seeded: Path, extra: str = "") -> Path:
    """The example file made servable in `tmp_path`, with `extra` appended."""
    path = adjusted(EXAMPLE, tmp_path, seeded).config
    path.write_text(path.read_text("utf-8") + extra, "utf-8")
    return path


def test_the_example_file_loads_with_paths_relative_to_itself(tmp_path: Path, seeded: Path) -> None:
    # As shipped, beside a data folder that `govgate demo` prepared.
    (tmp_path / "deploy").mkdir()
    example = tmp_path / "deploy" / EXAMPLE.name
    example.write_text(EXAMPLE.read_text("utf-8"), "utf-8")
    key = dev_signing_key(tmp_path / "data")
    settings = load_settings(example)
    assert settings.sources["persons"] == f"sqlite+aiosqlite:///{tmp_path / 'data/persons.db'}"
    assert settings.catalog == tmp_path / "catalog" / "guangzhou.yaml"
    assert settings.limits == Limits()
    assert settings.server == ServerOptions()
    assert settings.metrics.address == ("127.0.0.1", 9464)
    assert settings.tracing == TracingOptions()  # shown in the file, off
    assert settings.witnessing.checkpoint_interval_s == 1.0  # shown in the file, the default
    assert settings.algorithms == ("EdDSA",)
    assert settings.public_keys == {key.kid: key.public_pem()}


def test_tracing_reads_its_collector_and_the_headers_it_needs(tmp_path: Path, seeded: Path) -> None:
    path = deployment(tmp_path, seeded)
    text = path.read_text("utf-8").replace(
        "enabled = false", 'enabled = true\nheaders = { authorization = "Bearer c0113c70r" }'
    )
    path.write_text(text.replace("sample_ratio = 1.0", "sample_ratio = 0.25"), "utf-8")
    tracing = load_settings(path).tracing
    assert tracing.enabled
    assert tracing.sample_ratio == 0.25
    assert tracing.headers == {"authorization": "Bearer c0113c70r"}
    assert tracing.endpoint == "http://127.0.0.1:4318/v1/traces"


def test_the_development_key_has_its_public_half_beside_it(tmp_path: Path) -> None:
    key = dev_signing_key(tmp_path)
    public = (tmp_path / DEV_PUBLIC_KEY_FILE).read_text("ascii")
    assert public == key.public_pem()
    assert public_key_id(public) == key.kid


@pytest.mark.parametrize("shipped", sorted(DEPLOY.glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_deployment_file_serves(tmp_path: Path, seeded: Path, shipped: Path) -> None:
    """Each file in deploy/, its places moved into the test folder, serves: /healthz 200, the
    metrics on their own listener and not on the agencies' port."""
    served = adjusted(shipped, tmp_path, seeded)
    with serving(served) as url:
        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
        scraped = httpx.get(f"{served.metrics_url}/metrics", timeout=10)
        public = httpx.get(f"{url}/metrics", timeout=10)
    assert scraped.status_code == 200
    assert "govgate_requests_total" in scraped.text
    assert public.status_code == 404
    assert "govgate_" not in public.text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("[limits]\n", "[limits]\nmax_depht = 3\n"),
            "'max_depht' is an unknown setting; the settings of \\[limits\\] are "
            "max_aliases, max_batch, max_body_bytes, max_cost, max_depth",
        ),
        (("port = ", 'port = "eight" # '), "server.port must be an integer, not 'eight'"),
        (
            ("header_timeout_s = 10.0", "header_timeout_s = 0"),
            "server.header_timeout_s must be more than 0",
        ),
        (
            ("[server]\n", "[server]\nheader_timeout = 3\n"),
            "\\[server\\] 'header_timeout' is an unknown setting; the settings of \\[server\\] "
            "are body_timeout_s, header_timeout_s, host, http, keep_alive_s, loop, max_connections",
        ),
        (("[audit]\n", "[audit]\nurl_ = 'x'\n"), "\\[audit\\] 'url_' is an unknown setting"),
        (("[signing]\n", "[signing]\nkey = 'x'\n"), "\\[signing\\] 'key' is an unknown"),
        (("[identity]\n", "[identity]\nissuers = 'x'\n"), "\\[identity\\] 'issuers' is an unknown"),
        (("[policy]\n", "[policy]\ncatalogue = 'x'\n"), "\\[policy\\] 'catalogue' is an unknown"),
        (("[metrics]\n", "[metrics]\nport = 9\n"), "\\[metrics\\] 'port' is an unknown"),
        (('listen = "', 'listen = "9464" # "'), "metrics.listen must be host:port"),
        (("[tracing]\n", "[tracing]\nurl = 'x'\n"), "\\[tracing\\] 'url' is an unknown"),
        (("sample_ratio = 1.0", "sample_ratio = 2"), "tracing.sample_ratio must be between 0"),
        (('endpoint = "http', 'endpoint = "udp'), "tracing.endpoint must be the collector"),
        (
            ('algorithms = ["EdDSA"]', 'algorithms = "EdDSA"'),
            "identity.algorithms must be a list of strings",
        ),
        (("[limits]", "[limit]"), "\\[limit\\] is an unknown table; the tables are audit"),
        (('persons = "sqlite', 'people = "sqlite'), "'people' is not a source"),
        (("max_page_size = 100", "max_page_size = 0"), "limits.max_page_size must be at least 1"),
        (("[server]", "[server"), "cannot be read as TOML"),
        (
            ("checkpoint_interval_s = 1.0", "checkpoint_interval_s = 0"),
            "checkpoint_interval_s must be a number of seconds above 0",
        ),
    ],
)
def test_a_broken_deployment_file_says_what_to_change(
    tmp_path: Path, seeded: Path, change: tuple[str, str], message: str
) -> None:
    path = deployment(tmp_path, seeded)
    text = path.read_text("utf-8")
    assert change[0] in text
    path.write_text(text.replace(*change, 1), "utf-8")
    with pytest.raises(ConfigError, match=message):
        load_settings(path)


def test_a_deployment_without_token_keys_is_refused_with_a_sentence(
    tmp_path: Path, seeded: Path
) -> None:
    path = deployment(tmp_path, seeded)
    text = path.read_text("utf-8")
    path.write_text("\n".join(line for line in text.splitlines()
                              if not line.startswith("public_key_files")), "utf-8")  # fmt: skip
    result = subprocess.run([govgate(), "serve", "--config", str(path)], capture_output=True,
                            text=True, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 2
    assert "[identity] IdentityConfig has no keys to verify tokens with" in result.stderr
    assert "Traceback" not in result.stderr


def test_settings_built_in_code_without_keys_fail_as_configuration(
    seeded: Path, tmp_path: Path
) -> None:
    audit = f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"
    settings = dataclasses.replace(Settings.demo(seeded), public_keys={}, audit_url=audit)
    with pytest.raises(ConfigError, match="no keys to verify tokens with"):
        Gateway(settings)


def test_govgate_serve_runs_a_deployment_from_its_file(tmp_path: Path, seeded: Path) -> None:
    served = adjusted(EXAMPLE, tmp_path, seeded)
    token = issue_token(dev_signing_key(seeded), agency="GZ-PNR")
    with serving(served) as url:
        answer = httpx.post(
            f"{url}/graphql",
            json={"query": "{ landParcels(first: 3) { edges { node { parcelCode } } } }"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ).json()
    assert len(answer["data"]["landParcels"]["edges"]) == 3, answer


def test_govgate_serve_refuses_a_missing_file_with_a_sentence(tmp_path: Path) -> None:
    result = subprocess.run([govgate(), "serve", "--config", str(tmp_path / "nope.toml")],
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
    mixed = load_settings(DEPLOY / "govgate.mixed.toml")
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


def test_the_documents_table_names_agencies_in_required_mode(tmp_path: Path, seeded: Path) -> None:
    every = load_settings(deployment(tmp_path, seeded, '\n[documents]\nrequire_registered = "*"\n'))
    assert every.documents.requires("GZ-PSB")
    assert every.documents.requires("TH-CA")
    some = deployment(tmp_path, seeded, '\n[documents]\nrequire_registered = ["GZ-PSB"]\n')
    assert load_settings(some).documents.requires("GZ-PSB")
    assert not load_settings(some).documents.requires("TH-CA")
    assert not load_settings(deployment(tmp_path, seeded)).documents.requires("GZ-PSB")
    wrong = deployment(tmp_path, seeded, "\n[documents]\nrequire_registered = [1]\n")
    with pytest.raises(ConfigError, match=r"documents\.require_registered must be a list"):
        load_settings(wrong)
