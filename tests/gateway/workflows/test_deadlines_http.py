"""Working-day deadlines as the API and the console show them, on a fixed clock: across National
Day 2026 (a make-up Saturday), into 2027 (no known arrangement: a warning, never a crash), and
with the deployment's working-day file (`[workflows] calendar`)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx
import pytest

from gateway.http.app import create_app
from gateway.settings import ConfigError, WorkflowOptions, load_settings
from tests.gateway.workflows.gateway_fixtures import (
    ADMIN,
    TIANHE_CA,
    Agency,
    ConsoleSession,
    Deployment,
    make_deployment,
    serve,
    tianhe_records,
)

if TYPE_CHECKING:
    from pathlib import Path

OBJECT = """mutation($record: String!) {
  fileObjection(record: $record, field: "Person.maritalStatus", reason: "looks wrong") {
    id status deadline { day endsAt left overdue warnings }
  }
}"""
MINE = "{ objections { id status deadline { day left overdue warnings } } }"


def china(text: str) -> datetime:
    """A China Standard Time moment (UTC+8), as UTC."""
    return datetime.fromisoformat(text + "+08:00").astimezone(UTC)


@pytest.fixture
def deployment(tmp_path: Path, seeded: Path) -> Deployment:
    return make_deployment(tmp_path, seeded)


def test_the_check_deadline_runs_across_national_day_to_the_make_up_saturday(
    deployment: Deployment,
) -> None:
    deployment.clock.now = china("2026-09-30T10:00")  # Wednesday; Oct 1-7 are holidays
    person, _ = tianhe_records(deployment)
    with serve(deployment) as live, httpx.Client(base_url=live.url, timeout=30) as http:
        tianhe = Agency(http, deployment.token(TIANHE_CA))
        filed = tianhe.ask(OBJECT, record=f"Person:{person}")["data"]["fileObjection"]
        assert filed["deadline"] == {
            "day": "2026-10-10", "endsAt": "2026-10-10T16:00:00Z", "left": 3,
            "overdue": False, "warnings": [],
        }  # fmt: skip
        deployment.clock.now = china("2026-10-07T12:00")  # the holiday's last day: none used
        assert tianhe.ask(MINE)["data"]["objections"][0]["deadline"]["left"] == 3
        deployment.clock.now = china("2026-10-10T23:59")  # the make-up Saturday, still due
        found = tianhe.ask(MINE)["data"]["objections"][0]
        assert (found["status"], found["deadline"]["left"]) == ("filed", 1)
        deployment.clock.now = china("2026-10-11T00:00")
        found = tianhe.ask(MINE)["data"]["objections"][0]
        assert (found["status"], found["deadline"]["overdue"]) == ("overdue", True)
        admin = ConsoleSession(live.url, deployment.token(ADMIN))
        inbox = admin.page("/console").text
        assert f'<tr class="overdue">\n  <td><a href="/console/objections/{filed["id"]}"' in inbox
        admin.close()


def test_a_deadline_reaching_into_2027_warns_instead_of_crashing(deployment: Deployment) -> None:
    deployment.clock.now = china("2026-12-30T10:00")
    person, _ = tianhe_records(deployment)
    with serve(deployment) as live, httpx.Client(base_url=live.url, timeout=30) as http:
        answer = Agency(http, deployment.token(TIANHE_CA)).ask(OBJECT, record=f"Person:{person}")
        deadline = answer["data"]["fileObjection"]["deadline"]
        # Dec 31, then 2027 counted Monday to Friday: Jan 1 (a Friday) and Jan 4.
        assert deadline["day"] == "2027-01-04"
        (warning,) = deadline["warnings"]
        assert "2027" in warning
        assert "[workflows] calendar" in warning
        assert answer["extensions"]["warnings"] == [warning]
        admin = ConsoleSession(live.url, deployment.token(ADMIN))
        assert "Working days in 2027 are counted Monday to Friday" in admin.page("/console").text
        admin.close()


def test_the_deployments_working_day_file_decides_2027(deployment: Deployment) -> None:
    calendar = deployment.folder / "working-days.yaml"
    calendar.write_text(
        "2027:\n  holidays:\n    New Year's Day: 2027-01-01\n  workdays: []\n", "utf-8"
    )
    deployment.settings = dataclasses.replace(
        deployment.settings, workflows=WorkflowOptions(calendar=calendar)
    )
    deployment.clock.now = china("2026-12-30T10:00")
    person, _ = tianhe_records(deployment)
    with serve(deployment) as live, httpx.Client(base_url=live.url, timeout=30) as http:
        answer = Agency(http, deployment.token(TIANHE_CA)).ask(OBJECT, record=f"Person:{person}")
    deadline = answer["data"]["fileObjection"]["deadline"]
    assert (deadline["day"], deadline["warnings"]) == ("2027-01-05", [])  # Jan 1 a holiday
    assert "warnings" not in answer["extensions"]


def test_a_gateway_refuses_to_start_on_a_working_day_file_with_problems(
    deployment: Deployment,
) -> None:
    calendar = deployment.folder / "working-days.yaml"
    calendar.write_text("2027:\n  holidays:\n    New Year's Day: 2027-13-01\n", "utf-8")
    broken = dataclasses.replace(deployment.settings, workflows=WorkflowOptions(calendar=calendar))
    with pytest.raises(
        ConfigError,
        match=r"(?s)\[workflows\] calendar: .*working-days.yaml:3: .2027-13-01. is not a day",
    ):
        create_app(broken)


def test_the_workflows_table_names_the_calendar_relative_to_the_deployment_file(
    tmp_path: Path,
) -> None:
    config = tmp_path / "govgate.toml"
    sources = "\n".join(f'{n} = "sqlite+aiosqlite:///{n}.db"'
                        for n in ("persons", "entities", "land", "licenses"))  # fmt: skip
    config.write_text(f'[sources]\n{sources}\n[workflows]\ncalendar = "days.yaml"\n', "utf-8")
    assert load_settings(config).workflows.calendar == (tmp_path / "days.yaml").resolve()
    config.write_text(f"[sources]\n{sources}\n[workflows]\ncalender = 1\n", "utf-8")
    with pytest.raises(ConfigError, match=r"'calender' is an unknown setting.*calendar"):
        load_settings(config)
