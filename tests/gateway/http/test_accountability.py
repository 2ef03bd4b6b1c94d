"""Duty-bound, officer-attributed reads over HTTP (Art. 18, 21, 29, 34): a duty narrows the
schema and the answers, refusals say what to do and are recorded, the officer is in the audit
record and the reports."""

from __future__ import annotations

import dataclasses
import shutil
import time
from typing import TYPE_CHECKING, Any

import jwt
import pytest
from click.testing import CliRunner

from gateway.cli import main
from gateway.http.app import create_app
from gateway.identity.dev_keys import DEV_AUDIENCE, DEV_ISSUER, dev_signing_key, issue_token
from gateway.settings import Settings
from policies.catalog import SHIPPED_CATALOG
from tests.conftest import NOW
from tests.gateway.conftest import InProcess, isolated
from tests.gateway.http.test_audit import audit_of, first_person

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    import httpx

OFFICER = "440106-0042"
FIELDS = "query($n: String!) { __type(name: $n) { fields { name } } }"


def post(
    http: httpx.Client, token: str, query: str, duty: str | None = None, **variables: object
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if duty is not None:
        headers["Govgate-Duty"] = duty
    return http.post("/graphql", json={"query": query, "variables": variables or None},
                     headers=headers, timeout=30)  # fmt: skip


def fields_of(http: httpx.Client, token: str, type_name: str, duty: str | None = None) -> set[str]:
    answer = post(http, token, FIELDS, duty, n=type_name).json()
    return {f["name"] for f in answer["data"]["__type"]["fields"]}


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


# -- a duty narrows, on the session's gateway (the shipped catalogue requires no duty) ----------


def test_a_duty_narrows_the_schema_and_the_answers(
    live: InProcess, seeded: Path, token_for: Callable[[str], str]
) -> None:
    token, someone = token_for("GZ-PSB"), first_person(seeded)
    assert "phone" in fields_of(live.client, token, "Person")
    narrowed = fields_of(live.client, token, "Person", "traffic-management")
    assert "phone" not in narrowed
    assert {"name", "idNumber"} <= narrowed  # unconditional fields stay
    query = f'{{ person(idNumber: "{someone}") {{ name phone }} }}'
    assert "errors" not in post(live.client, token, query).json()
    refused = post(live.client, token, query, "traffic-management").json()
    assert codes(refused) == ["FORBIDDEN_FIELD"]
    assert refused.get("data") is None
    me = post(live.client, token, "{ me { duty readable dutyRequired } }", "traffic-management")
    assert me.json()["data"]["me"]["duty"] == "traffic-management"
    assert "Person.phone" not in me.json()["data"]["me"]["readable"]
    assert me.json()["data"]["me"]["dutyRequired"] is False


def test_a_district_agencys_duty_keeps_its_row_scope(
    live: InProcess, token_for: Callable[[str], str]
) -> None:
    token = token_for("YX-AMR")
    page = "{ legalEntities(first: 50) { edges { node { divisionCode name } } } }"
    answer = post(live.client, token, page, "administrative-licensing").json()
    divisions = {e["node"]["divisionCode"] for e in answer["data"]["legalEntities"]["edges"]}
    assert divisions == {"440104"}
    assert "updatedAt" in fields_of(live.client, token, "LegalEntity")
    assert "updatedAt" not in fields_of(
        live.client, token, "LegalEntity", "administrative-licensing"
    )


def test_a_duty_the_agency_does_not_hold_is_refused_before_anything_runs_and_recorded(
    live: InProcess, seeded: Path, token_for: Callable[[str], str]
) -> None:
    response = post(live.client, token_for("TH-CA"), "{ me { duty } }", "taxation")
    assert response.status_code == 403
    error = response.json()["errors"][0]
    civil_affairs = {"id": "civil-affairs", "name": "民政管理"}
    assert error["extensions"] == {"code": "DUTY_NOT_HELD", "duties": [civil_affairs]}
    assert "TH-CA does not hold the duty 'taxation'" in error["message"]
    record = audit_of(seeded, response.headers["x-request-id"])
    assert (record["decision"], record["agency"], record["duty"]) == (
        "refused",
        "TH-CA",
        "taxation",
    )
    assert record["errorCodes"] == ["DUTY_NOT_HELD"]
    assert record["fields"] == []


def test_the_audit_record_carries_the_duty_an_answer_was_given_under(
    live: InProcess, seeded: Path, token_for: Callable[[str], str]
) -> None:
    query = f'{{ person(idNumber: "{first_person(seeded)}") {{ phone }} }}'
    under = post(live.client, token_for("GZ-PSB"), query, "public-security")
    plain = post(live.client, token_for("GZ-PSB"), query)
    record = audit_of(seeded, under.headers["x-request-id"])
    assert (record["decision"], record["duty"]) == ("allowed", "public-security")
    assert "Person.phone" in record["fields"]
    # Without a duty or an officer the record is what it was before either existed.
    assert not {"duty", "officer"} & set(audit_of(seeded, plain.headers["x-request-id"]))


def test_a_malformed_act_claim_is_refused_as_a_malformed_token(
    live: InProcess, seeded: Path
) -> None:
    key = dev_signing_key(seeded)
    now = int(time.time())
    claims = {"sub": "TH-CA", "iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "iat": now,
              "exp": now + 600, "jti": "act-test", "act": {"sub": "Wang Li; DROP"}}  # fmt: skip
    token = jwt.encode(claims, key.private_key, algorithm="EdDSA", headers={"kid": key.kid})
    response = post(live.client, token, "{ me { officer } }")
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["reason"] == "malformed_token"
    assert "act claim" in response.json()["errors"][0]["message"]


def test_govgate_token_names_the_officer_in_the_act_claim(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["token", "--agency", "TH-CA", "--officer", OFFICER,
                                       "--data", str(tmp_path)])  # fmt: skip
    assert result.exit_code == 0, result.output
    claims = jwt.decode(result.output.strip(), options={"verify_signature": False})
    assert claims["act"] == {"sub": OFFICER}
    bad = CliRunner().invoke(main, ["token", "--agency", "TH-CA", "--officer", "Wang Li",
                                    "--data", str(tmp_path)])  # fmt: skip
    assert bad.exit_code == 2
    assert "--officer" in bad.output


# -- a strict deployment: every request names its duty, every token its officer ----------------


@pytest.fixture(scope="module")
def strict(
    seeded: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[InProcess, Path]]:
    """A gateway whose catalogue requires a duty and whose deployment requires an officer."""
    folder = tmp_path_factory.mktemp("strict")
    catalog = folder / "catalog.yaml"
    text = SHIPPED_CATALOG.read_text("utf-8")
    catalog.write_text(text.replace("title: ", "require_duty: true\ntitle: ", 1), "utf-8")
    shutil.copy(SHIPPED_CATALOG.with_name("guangzhou.rules.csv"), folder / "catalog.rules.csv")
    settings = dataclasses.replace(
        Settings.demo(seeded), catalog=catalog, rules=folder / "catalog.rules.csv",
        require_officer=True,
    )  # fmt: skip
    with InProcess(create_app(isolated(settings, folder), clock=lambda: NOW)) as server:
        yield server, folder


def officer_token(seeded: Path, agency: str, officer: str | None = OFFICER) -> str:
    return issue_token(dev_signing_key(seeded), agency=agency, officer=officer)


def test_a_token_without_an_officer_is_refused_where_one_is_required(
    strict: tuple[InProcess, Path], seeded: Path
) -> None:
    server, folder = strict
    response = post(server.client, officer_token(seeded, "TH-CA", None), "{ me { duty } }",
                    "civil-affairs")  # fmt: skip
    assert response.status_code == 403
    assert codes(response.json()) == ["OFFICER_REQUIRED"]
    assert '{"act": {"sub": "<officer id>"}}' in response.json()["errors"][0]["message"]
    record = audit_of(folder, response.headers["x-request-id"])
    assert (record["decision"], record["agency"]) == ("refused", "TH-CA")


def test_a_required_duty_missing_is_refused_naming_the_agencys_duties_and_recorded(
    strict: tuple[InProcess, Path], seeded: Path
) -> None:
    server, folder = strict
    response = post(server.client, officer_token(seeded, "GZ-PSB"), "{ me { duty } }")
    assert response.status_code == 403
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "DUTY_REQUIRED"
    assert [d["id"] for d in error["extensions"]["duties"]] == [
        "household-registration", "public-security", "traffic-management"]  # fmt: skip
    assert "Govgate-Duty" in error["message"]
    record = audit_of(folder, response.headers["x-request-id"])
    assert (record["decision"], record["agency"], record["officer"]) == (
        "refused", "GZ-PSB", OFFICER)  # fmt: skip
    assert "duty" not in record
    assert record["errorCodes"] == ["DUTY_REQUIRED"]


def test_the_officer_is_in_the_audit_record_and_in_the_reports(
    strict: tuple[InProcess, Path], seeded: Path
) -> None:
    server, folder = strict
    someone = first_person(seeded)
    query = f'{{ person(idNumber: "{someone}") {{ name maritalStatus }} me {{ officer duty }} }}'
    answered = post(server.client, officer_token(seeded, "GZ-CA"), query, "civil-affairs")
    body = answered.json()
    assert "errors" not in body
    assert body["data"]["me"] == {"officer": OFFICER, "duty": "civil-affairs"}
    other = post(server.client, officer_token(seeded, "GZ-CA", "440100-0007"),
                 "{ persons(first: 2) { edges { node { name } } } }", "civil-affairs")  # fmt: skip
    assert "errors" not in other.json()
    record = audit_of(folder, answered.headers["x-request-id"])
    assert (record["agency"], record["officer"], record["duty"]) == (
        "GZ-CA", OFFICER, "civil-affairs")  # fmt: skip
    assert record["records"] == [f"Person:{someone}"]

    day = NOW.date().isoformat()
    period = ["--from", day, "--to", day, "--data", str(folder)]
    everyone = CliRunner().invoke(main, ["audit", "report", *period])
    assert everyone.exit_code == 0, everyone.output
    assert "Per duty named (Govgate-Duty)" in everyone.output
    assert "Per officer (the token's act claim)" in everyone.output
    assert "440100-0007" in everyone.output

    one = CliRunner().invoke(main, ["audit", "report", *period, "--officer", OFFICER])
    assert one.exit_code == 0, one.output
    assert f"Usage report for officer {OFFICER} of all agencies" in one.output
    listing = one.output.split(f"Requests of officer {OFFICER}, one by one")[1]
    assert f"Person:{someone}" in listing
    assert "Person.maritalStatus" in listing
    assert "civil-affairs" in listing
    assert "440100-0007" not in one.output  # the other officer's requests are not listed

    csv_out = CliRunner().invoke(main, ["audit", "report", *period, "--format", "csv"])
    officer_rows = [line for line in csv_out.output.splitlines() if ",officer," in line]
    assert any(line.endswith(f",{OFFICER}") for line in officer_rows)
