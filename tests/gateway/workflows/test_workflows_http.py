"""Access requests (Art. 19) and objections (Art. 22) end to end over HTTP: GraphQL for the
agencies, the console for the administrator and the provider, a real gateway on a real port."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.gateway.workflows.gateway_fixtures import (
    ADMIN,
    MARRIAGE,
    POLICE,
    TIANHE_CA,
    Agency,
    ConsoleSession,
    Deployment,
    codes,
    make_deployment,
    notice_of,
    serve,
    tianhe_records,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.gateway.conftest import LiveServer

REQUEST = """mutation($fields: [String!]!, $duty: String!, $reason: String!) {
  requestAccess(fields: $fields, duty: $duty, reason: $reason) {
    id state status entries { field entry } pending providers
    deadline { day left overdue warnings } history { action agency officer }
  }
}"""
OBJECT = """mutation($record: String!, $field: String!, $reason: String!) {
  fileObjection(record: $record, field: $field, reason: $reason) {
    id state status provider deadline { day left overdue warnings }
  }
}"""
READ = """query($person: String!, $licence: String!) {
  person(idNumber: $person) { maritalStatus }
  license(licenseNumber: $licence) { kind }
}"""


@pytest.fixture
def deployment(tmp_path: Path, seeded: Path) -> Deployment:
    return make_deployment(tmp_path, seeded)


@pytest.fixture
def live(deployment: Deployment) -> Iterator[LiveServer]:
    with serve(deployment) as server:
        yield server


@pytest.fixture
def http(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=30) as client:
        yield client


def test_an_in_catalogue_request_is_open_at_once_pointing_at_its_catalogue_entry(
    deployment: Deployment, http: httpx.Client
) -> None:
    tianhe = Agency(http, deployment.token(TIANHE_CA, "clerk-11"))
    answer = tianhe.ask(REQUEST, fields=["Person.address", "Person.name"], duty="civil-affairs",
                        reason="social assistance review")  # fmt: skip
    found = answer["data"]["requestAccess"]
    assert found["state"] == "open"  # Art. 19 para 1: opened at once
    assert found["entries"] == [
        {"field": "Person.address", "entry": "catalog:datasets/person-basic/address"},
        {"field": "Person.name", "entry": "catalog:datasets/person-basic/name"},
    ]
    assert found["pending"] == []
    assert found["deadline"] is None
    assert [s["action"] for s in found["history"]] == ["filed", "opened"]
    listed = tianhe.ask("{ accessRequests { id state } }")["data"]["accessRequests"]
    assert listed == [{"id": found["id"], "state": "open"}]
    # Each step is in the audit log with who (agency and officer), when and why.
    steps = [json.loads(c) for c in deployment.audit("content LIKE '%workflow:access%'")]
    assert [(s["agency"], s["officer"], s["endpoint"]) for s in steps] == [
        (TIANHE_CA, "clerk-11", "workflow")] * 2  # fmt: skip
    assert "social assistance review" in steps[0]["reason"]


def test_an_out_of_catalogue_request_is_decided_and_the_agency_then_reads_the_field(
    deployment: Deployment, live: LiveServer, http: httpx.Client
) -> None:
    person, _ = tianhe_records(deployment)
    tianhe = Agency(http, deployment.token(TIANHE_CA, "clerk-11"))
    phone = "query($p: String!) { person(idNumber: $p) { phone } }"
    assert codes(tianhe.ask(phone, p=person)) == ["FORBIDDEN_FIELD"]
    filed = tianhe.ask(REQUEST, fields=["Person.phone"], duty="civil-affairs",
                       reason="contact for the review")["data"]["requestAccess"]  # fmt: skip
    assert (filed["state"], filed["providers"]) == ("filed", [POLICE])

    admin = ConsoleSession(live.url, deployment.token(ADMIN, "admin-07"))
    case = f"/console/requests/{filed['id']}"
    assert admin.step(f"{case}/forward", reference="GZ-GOV-FWD-1").status_code == 200
    decided = admin.step(f"{case}/decide", decision="approve", reference="GZ-GOV-2026-88")
    assert decided.status_code == 200, decided.text
    assert "in force as published policy" in notice_of(decided.text)

    answer = tianhe.ask(phone, p=person)
    assert "errors" not in answer, answer
    (stored,) = deployment.sql("persons", "SELECT phone FROM persons WHERE id_number = ?", person)
    assert answer["data"]["person"]["phone"] == stored[0]
    # The rule is in the deployment's rules file, and the history names the decision.
    assert "approval GZ-GOV-2026-88 access request " + filed["id"] in deployment.rules.read_text()
    history = admin.page("/console/catalog").text
    assert "GZ-GOV-2026-88" in history
    mine = tianhe.ask("{ accessRequests { state deadline { day left } } }")["data"]
    assert mine["accessRequests"][0]["state"] == "approved"
    assert mine["accessRequests"][0]["deadline"] == {"day": "2026-12-03", "left": 5}
    admin.close()


def test_an_objection_runs_both_checks_and_its_correction_reaches_every_earlier_recipient(
    deployment: Deployment, live: LiveServer, http: httpx.Client
) -> None:
    person, licence = tianhe_records(deployment)
    tianhe = Agency(http, deployment.token(TIANHE_CA, "clerk-11"))
    police = Agency(http, deployment.token(POLICE))
    tax = Agency(http, deployment.token("GZ-TAX"))
    # Earlier recipients: each read the value with a licence, so each answer has a voucher.
    read_by_tianhe = tianhe.ask(READ, person=person, licence=licence)
    read_by_police = police.ask(READ, person=person, licence=licence)
    tax.ask("query($l: String!) { license(licenseNumber: $l) { kind } }", l=licence)
    vouchers = {
        TIANHE_CA: read_by_tianhe["extensions"]["voucher"]["id"],
        POLICE: read_by_police["extensions"]["voucher"]["id"],
    }
    deployment.clock.now = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)

    filed = tianhe.ask(
        OBJECT,
        record=f"Person:{person}",
        field="Person.maritalStatus",
        reason="the registry shows a later divorce",
    )["data"]["fileObjection"]
    assert (filed["state"], filed["provider"]) == ("filed", MARRIAGE)
    assert filed["deadline"] == {"day": "2026-12-01", "left": 3, "overdue": False, "warnings": []}
    case = f"/console/objections/{filed['id']}"

    admin = ConsoleSession(live.url, deployment.token(ADMIN, "admin-07"))
    checked = admin.step(f"{case}/check", cause="not-technical", reason="not a platform fault")
    assert checked.status_code == 200
    assert "with-provider" in notice_of(checked.text)
    provider = ConsoleSession(live.url, deployment.token(MARRIAGE, "registrar-3"))
    assert filed["id"] in provider.page("/console").text  # in the provider's inbox
    reported = provider.step(f"{case}/report", source="wrong", reason="divorce not entered")
    assert "correcting" in notice_of(reported.text)
    # Confirming before the source changed is refused, and nothing is notified.
    early = provider.step(f"{case}/confirm")
    assert early.status_code == 409
    assert "SOURCE_UNCHANGED" in early.text
    assert tianhe.ask("{ notifications { id } }")["data"]["notifications"] == []

    (old,) = deployment.sql("persons", "SELECT marital_status FROM persons WHERE id_number = ?",
                            person)  # fmt: skip
    new = "divorced" if old[0] != "divorced" else "married"
    deployment.sql("persons", "UPDATE persons SET marital_status = ? WHERE id_number = ?", new,
                   person)  # fmt: skip
    confirmed = provider.step(f"{case}/confirm", reason="corrected in the registry")
    assert "corrected" in notice_of(confirmed.text), confirmed.text

    status = "query($v: String!) { voucher(id: $v) { status supersededBy } }"
    for agency, reader in ((TIANHE_CA, tianhe), (POLICE, police)):
        (notice,) = reader.ask("{ notifications { objection record field requests } }")[
            "data"]["notifications"]  # fmt: skip
        assert notice == {"objection": filed["id"], "record": f"Person:{person}",
                          "field": "Person.maritalStatus", "requests": 1}  # fmt: skip
        voucher = reader.ask(status, v=vouchers[agency])["data"]["voucher"]
        assert voucher == {"status": "superseded", "supersededBy": [filed["id"]]}
    assert tax.ask("{ notifications { id } }")["data"]["notifications"] == []
    # The requester sees that it was notified, not to whom (the audit log's to tell).
    mine = tianhe.ask("{ objections { status notified history { action } } }")["data"]
    assert mine["objections"][0]["status"] == "corrected"
    assert mine["objections"][0]["notified"]
    assert POLICE in admin.page(case).text
    assert POLICE not in provider.page(case).text
    # The objection's own audit records never list the disputed record as read.
    for content in deployment.audit("content LIKE '%workflow:objection%'"):
        assert f"Person:{person}" not in json.loads(content)["records"]
    admin.close()
    provider.close()


def test_an_objection_on_a_record_outside_the_agencys_scope_is_refused_as_if_absent(
    deployment: Deployment, http: httpx.Client
) -> None:
    (outside,) = deployment.sql(
        "persons", "SELECT id_number FROM persons WHERE division_code != '440106' LIMIT 1"
    )
    person, _ = tianhe_records(deployment)
    tianhe = Agency(http, deployment.token(TIANHE_CA))
    answers = [
        tianhe.ask(OBJECT, record=f"Person:{outside[0]}", field="Person.maritalStatus", reason="x"),
        tianhe.ask(OBJECT, record=f"Person:{person}", field="Person.phone", reason="x"),
    ]
    assert [codes(a) for a in answers] == [["NOT_FOUND"], ["NOT_FOUND"]]
    assert answers[0]["errors"][0]["message"].split(outside[0])[1] == answers[1]["errors"][0][
        "message"
    ].split(person)[1].replace("phone", "maritalStatus")
    refused = json.loads(deployment.audit()[-1])
    assert refused["decision"] == "refused"
    assert refused["errorCodes"] == ["NOT_FOUND"]


def forwarded_phone_request(deployment: Deployment, live: LiveServer) -> tuple[str, ConsoleSession]:
    with httpx.Client(base_url=live.url, timeout=30) as http:
        filed = Agency(http, deployment.token(TIANHE_CA)).ask(
            REQUEST, fields=["Person.phone"], duty="civil-affairs", reason="review"
        )["data"]["requestAccess"]
    admin = ConsoleSession(live.url, deployment.token(ADMIN, "admin-07"))
    admin.step(f"/console/requests/{filed['id']}/forward", reference="FWD-1")
    return f"/console/requests/{filed['id']}", admin


def test_an_approval_that_cannot_become_a_grant_is_refused_before_it_is_recorded(
    tmp_path: Path, seeded: Path
) -> None:
    import dataclasses

    deployment = make_deployment(tmp_path, seeded)
    deployment.settings = dataclasses.replace(deployment.settings, rules=None)
    with serve(deployment) as live:
        case, admin = forwarded_phone_request(deployment, live)
        refused = admin.step(f"{case}/decide", decision="approve", reference="GZ-GOV-1")
        assert refused.status_code == 409
        assert "GRANT_NOT_PUBLISHED" in refused.text
        assert "[policy] rules" in refused.text
        assert 'id="status" class="forwarded"' in admin.page(case).text  # nothing recorded
        admin.close()


def test_an_approval_does_not_carry_unpublished_removals_into_force(
    deployment: Deployment, live: LiveServer
) -> None:
    case, admin = forwarded_phone_request(deployment, live)
    shipped = deployment.rules.read_text("utf-8")
    removal = "p, TH-CA, Person.name, *, deny, *, pending review\n"
    deployment.rules.write_text(shipped + removal, "utf-8")
    decided = admin.step(f"{case}/decide", decision="approve", reference="GZ-GOV-2")
    text = notice_of(decided.text)
    assert "Decision recorded: approved" in text
    assert "NOT in force" in text
    assert "TH-CA may no longer query Person.name" in text
    assert deployment.rules.read_text("utf-8") == shipped + removal  # nothing written
    assert 'id="publish"' in decided.text  # the page offers to publish again
    deployment.rules.write_text(shipped, "utf-8")
    again = admin.step(f"{case}/publish")
    assert "in force as published policy" in notice_of(again.text)
    admin.close()
