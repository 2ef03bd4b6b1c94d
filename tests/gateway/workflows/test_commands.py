"""`govgate requests ...` and `govgate objections ...` on a deployment file, beside a running
gateway: each prints what it did, records it, and an approval reaches the gateway's policy."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import httpx
from click.testing import CliRunner

from gateway.cli import main
from gateway.settings import load_settings
from tests.gateway.workflows.gateway_fixtures import (
    TIANHE_CA,
    Agency,
    codes,
    make_deployment,
    serve,
    tianhe_records,
)

if TYPE_CHECKING:
    from pathlib import Path

    from tests.gateway.workflows.gateway_fixtures import Deployment


def deployment_file(deployment: Deployment) -> Path:
    """A `govgate serve` file naming the test deployment's places."""
    settings = deployment.settings
    sources = "\n".join(f'{name} = "{url}"' for name, url in settings.sources.items())
    config = deployment.folder / "govgate.toml"
    config.write_text(
        f'[sources]\n{sources}\n[policy]\ncatalog = "{settings.catalog}"\n'
        f'rules = "{settings.rules}"\n[audit]\nurl = "{settings.audit_url}"\n'
        f'[signing]\nkeys = "{settings.signing_keys}"\n', "utf-8",
    )  # fmt: skip
    return config


def govgate(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_an_operator_forwards_and_approves_a_request_and_the_running_gateway_serves_it(
    tmp_path: Path, seeded: Path
) -> None:
    deployment = make_deployment(tmp_path, seeded)
    config = str(deployment_file(deployment))
    assert load_settings(config).rules == deployment.rules  # the same places as the server
    person, _ = tianhe_records(deployment)
    phone = "query($p: String!) { person(idNumber: $p) { phone } }"
    with serve(deployment) as live, httpx.Client(base_url=live.url, timeout=30) as http:
        tianhe = Agency(http, deployment.token(TIANHE_CA))
        filed = tianhe.ask('mutation { requestAccess(fields: ["Person.phone"], duty: '
                           '"civil-affairs", reason: "review") { id } }')  # fmt: skip
        case = filed["data"]["requestAccess"]["id"]

        status, listed = govgate("requests", "list", "--config", config, "--waiting")
        assert status == 0, listed
        assert case in listed
        assert "filed" in listed
        status, said = govgate("requests", "forward", case, "--reference", "FWD-1",
                               "--officer", "ops-1", "--config", config)  # fmt: skip
        assert (status, said.strip()) == (0, f"{case} forwarded by GZ-DATA (officer ops-1) with "
                                          "reference FWD-1; it is now forwarded.")  # fmt: skip
        status, refused = govgate("requests", "available", case, "--as", "GZ-PSB",
                                  "--officer", "p-1", "--config", config)  # fmt: skip
        assert status == 1
        assert "WRONG_STATE" in refused
        status, said = govgate(
            "requests",
            "decide",
            case,
            "--approve",
            "--reference",
            "GZ-GOV-2026-90",
            "--officer",
            "ops-1",
            "--config",
            config,
        )
        assert status == 0, said
        assert f"{case} approved by GZ-DATA (officer ops-1) with reference GZ-GOV-2026-90" in said
        assert "Grant published as policy @" in said
        assert "p, TH-CA, Person.phone" in said

        # The gateway follows the published policy (SQLite: a poll a second). Its clock's day is
        # not the command's, so it decides the grants anew (Served.build: about a second on a
        # quiet machine, ten and more under a loaded CI's): the deadline allows for that.
        deadline = time.monotonic() + 60
        while codes(answer := tianhe.ask(phone, p=person)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "errors" not in answer
        assert answer["data"]["person"]["phone"]

        status, shown = govgate("requests", "show", case, "--json", "--config", config)
        found = json.loads(shown)
        assert (found["state"], found["decision_reference"]) == ("approved", "GZ-GOV-2026-90")
        assert [e["action"] for e in found["history"]] == ["filed", "forwarded", "decided"]
        assert found["history"][1]["officer"] == "ops-1"
    steps = [json.loads(c) for c in deployment.audit("content LIKE '%workflow:access%'")]
    assert [s["requestId"] for s in steps[1:3]] == [f"{case}:2", f"{case}:3"]


def test_a_command_on_a_deployment_never_served_says_so(tmp_path: Path, seeded: Path) -> None:
    deployment = make_deployment(tmp_path, seeded)
    status, said = govgate("objections", "list", "--config", str(deployment_file(deployment)))
    assert status == 1
    assert "no gateway database" in said
    assert "creates it when it first serves" in said
