"""Every request to the gateway leaves an audit record that says who asked what and got what."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import random
import sqlite3
from contextlib import closing
from typing import TYPE_CHECKING, Any

import httpx
from click.testing import CliRunner

from gateway.cli import main
from gateway.http.app import create_app
from gateway.settings import Settings
from tests.conftest import NOW
from tests.gateway.conftest import InProcess, LiveServer

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


def audit_of(folder: Path, request_id: str) -> dict[str, Any]:
    """The one audit record of `request_id` in the store of `folder`."""
    with closing(sqlite3.connect(folder / "audit.db")) as db:
        rows = db.execute("SELECT content FROM audit_log").fetchall()
    found = [c for (text,) in rows if (c := json.loads(text))["requestId"] == request_id]
    assert len(found) == 1, f"{len(found)} audit records for {request_id}"
    record: dict[str, Any] = found[0]
    return record


def send(live: InProcess | LiveServer, body: object, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return live.client.post("/graphql", json=body, headers=headers, timeout=30)


def first_person(seeded: Path) -> str:
    with closing(sqlite3.connect(seeded / "persons.db")) as db:
        (key,) = db.execute("SELECT id_number FROM persons ORDER BY id_number LIMIT 1").fetchone()
    return str(key)


def test_an_answered_query_is_recorded_with_fields_records_and_policy(
    live: InProcess, seeded: Path, token_for: Callable[[str], str]
) -> None:
    query = "query Two { persons(first: 2) { edges { node { idNumber name } } } }"
    response = send(live, {"query": query, "operationName": "Two"}, token_for("GZ-PSB"))
    keys = [e["node"]["idNumber"] for e in response.json()["data"]["persons"]["edges"]]
    record = audit_of(seeded, response.headers["x-request-id"])
    assert record["decision"] == "allowed"
    assert record["agency"] == "GZ-PSB"
    assert record["endpoint"] == "/graphql"
    assert record["fields"] == ["Person.idNumber", "Person.name", "Query.persons"]
    # Exactly the records returned: not the extra row read to know whether a next page exists.
    assert record["records"] == [f"Person:{key}" for key in keys]
    assert record["rowCount"] == 2
    assert record["operations"] == [
        {"name": "Two", "sha256": hashlib.sha256(query.encode()).hexdigest()}
    ]
    assert query not in json.dumps(record)  # the text is hashed, not kept
    health = live.client.get("/healthz").json()
    assert record["policyVersion"] == health["policyVersion"]
    assert record["latencyUs"] > 0
    assert record["at"] == "2026-11-26T08:00:00.000000Z"  # the gateway's (pinned) clock


def test_aliases_and_fragments_are_recorded_under_the_real_field_names(
    live: InProcess, seeded: Path, token_for: Callable[[str], str]
) -> None:
    key = first_person(seeded)
    query = (
        f'{{ who: person(idNumber: "{key}") {{ ...bits alias: name }} }} '
        "fragment bits on Person { phone ... on Person { gender } }"
    )
    response = send(live, {"query": query}, token_for("GZ-PSB"))
    record = audit_of(seeded, response.headers["x-request-id"])
    assert record["fields"] == ["Person.gender", "Person.name", "Person.phone", "Query.person"]
    assert record["records"] == [f"Person:{key}"]


def test_a_refused_field_is_recorded_as_a_refusal_naming_it(
    live: InProcess, seeded: Path, token_for: Callable[[str], str]
) -> None:
    query = "{ persons(first: 1) { edges { node { name maritalStatus phone } } } }"
    response = send(live, {"query": query}, token_for("PY-TAX"))
    record = audit_of(seeded, response.headers["x-request-id"])
    assert record["decision"] == "refused"
    assert record["refusedFields"] == ["Person.maritalStatus", "Person.phone"]
    assert record["errorCodes"] == ["FORBIDDEN_FIELD"]
    assert record["fields"] == []
    assert record["records"] == []


def test_a_request_without_a_valid_token_is_recorded_with_the_reason(
    live: InProcess, seeded: Path
) -> None:
    for token, reason in ((None, "missing"), ("not.a.jwt", "malformed")):
        response = send(live, {"query": "{ me { agency { code } } }"}, token)
        assert response.status_code == 401
        record = audit_of(seeded, response.headers["x-request-id"])
        assert record["decision"] == "unauthenticated"
        assert record["agency"] is None
        assert record["reason"].startswith(reason)


def test_a_body_that_is_not_json_is_recorded_as_refused(
    live: InProcess, seeded: Path, token_for: Callable[[str], str]
) -> None:
    response = live.client.post("/graphql", content=b"{nope",
                          headers={"Authorization": f"Bearer {token_for('GZ-PSB')}"})  # fmt: skip
    assert response.status_code == 400
    record = audit_of(seeded, response.headers["x-request-id"])
    assert (record["decision"], record["errorCodes"]) == ("refused", ["BAD_REQUEST"])


def test_a_batch_is_one_record_naming_each_operation(
    live: InProcess, seeded: Path, token_for: Callable[[str], str]
) -> None:
    batch = [{"query": "{ me { agency { code } } }"},
             {"query": "query P { persons(first: 1) { edges { node { name } } } }"}]  # fmt: skip
    response = send(live, batch, token_for("GZ-PSB"))
    record = audit_of(seeded, response.headers["x-request-id"])
    assert [op["name"] for op in record["operations"]] == [None, "P"]
    assert "Person.name" in record["fields"]
    assert "Query.me" in record["fields"]
    assert len(record["records"]) == 1


def test_a_verification_records_the_identifier_checked(
    live: InProcess, seeded: Path, token_for: Callable[[str], str]
) -> None:
    key = first_person(seeded)
    query = f'{{ verifyPerson(idNumber: "{key}", name: "nobody") {{ match }} }}'
    response = send(live, {"query": query}, token_for("GZ-WATER"))
    assert response.json()["data"]["verifyPerson"]["match"] is False
    record = audit_of(seeded, response.headers["x-request-id"])
    assert record["flags"] == [f"verify:Person:{key}"]
    assert record["records"] == []  # nothing of the person went out


def test_a_policy_reload_is_recorded(
    live: InProcess, seeded: Path, token_for: Callable[[str], str]
) -> None:
    refused = live.client.post("/admin/policy/reload",
                         headers={"Authorization": f"Bearer {token_for('GZ-PSB')}"})  # fmt: skip
    assert refused.status_code == 403
    record = audit_of(seeded, refused.headers["x-request-id"])
    assert (record["decision"], record["endpoint"]) == ("refused", "/admin/policy/reload")


def own_gateway(seeded: Path, folder: Path) -> LiveServer:
    """A gateway over the shared seeded sources with its own audit store and keys in `folder`."""
    settings = dataclasses.replace(
        Settings.demo(seeded),
        audit_url=f"sqlite+aiosqlite:///{folder / 'audit.db'}",
        signing_keys=folder / "keys" / "gateway",
    )
    return LiveServer(create_app(settings, clock=lambda: NOW))


def test_without_its_audit_store_the_gateway_answers_nothing(
    seeded: Path, tmp_path: Path, token_for: Callable[[str], str]
) -> None:
    with own_gateway(seeded, tmp_path) as server:
        query = {"query": "{ persons(first: 1) { edges { node { name } } } }"}
        assert send(server, query, token_for("GZ-PSB")).status_code == 200
        with closing(sqlite3.connect(tmp_path / "audit.db")) as db:
            db.execute("DROP TABLE audit_log")  # the store breaks under the running gateway
        refused = send(server, query, token_for("GZ-PSB"))
    assert refused.status_code == 503
    body = refused.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "AUDIT_UNAVAILABLE"
    assert "not answered" in body["errors"][0]["message"]


def test_a_load_of_thousands_of_requests_leaves_exactly_as_many_records_in_one_chain(
    seeded: Path, tmp_path: Path, token_for: Callable[[str], str]
) -> None:
    total, concurrency = 3_000, 32
    tokens = {code: token_for(code) for code in ("GZ-PSB", "PY-TAX", "TH-CA", "GZ-AMR")}
    bodies = [
        ({"query": "{ persons(first: 3) { edges { node { name } } } }"}, "GZ-PSB"),
        ({"query": "{ legalEntities(first: 2) { edges { node { name } } } }"}, "PY-TAX"),
        ({"query": "{ persons(first: 1) { edges { node { religion } } } }"}, "TH-CA"),  # refused
        ({"query": "{ licenses(first: 2) { edges { node { licenseNumber } } } }"}, "GZ-AMR"),
        ({"query": "{ me { agency { code } } }"}, None),  # unauthenticated
    ]
    rng = random.Random(7)
    plan = [rng.choice(bodies) for _ in range(total)]

    async def load(url: str) -> list[int]:
        limit = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:

            async def one(body: dict[str, str], agency: str | None) -> int:
                headers = {"Authorization": f"Bearer {tokens[agency]}"} if agency else {}
                async with limit:
                    return (await client.post("/graphql", json=body, headers=headers)).status_code

            return await asyncio.gather(*(one(body, agency) for body, agency in plan))

    with own_gateway(seeded, tmp_path) as server:
        statuses = asyncio.run(load(server.url))
    assert sorted(set(statuses)) == [200, 401]
    with closing(sqlite3.connect(tmp_path / "audit.db")) as db:
        (count,) = db.execute("SELECT COUNT(*) FROM audit_log").fetchone()
        decisions = dict(db.execute("SELECT decision, COUNT(*) FROM audit_log GROUP BY 1"))
        (vouchers,) = db.execute("SELECT COUNT(*) FROM vouchers").fetchone()
    assert count == total
    assert decisions["unauthenticated"] == statuses.count(401)
    assert vouchers == sum(1 for _, agency in plan if agency == "GZ-AMR")  # one per licence page
    result = CliRunner().invoke(main, ["audit", "verify", "--data", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert f"intact: {total:,} records" in result.output


def test_fields_left_out_by_skip_or_include_are_not_recorded_as_read(
    live: InProcess, seeded: Path, token_for: Callable[[str], str]
) -> None:
    query = ("query($no: Boolean!) { persons(first: 1) { edges { node { name "
             "phone @skip(if: true) gender @include(if: $no) } } } }")  # fmt: skip
    response = send(live, {"query": query, "variables": {"no": False}}, token_for("GZ-PSB"))
    record = audit_of(seeded, response.headers["x-request-id"])
    assert record["fields"] == ["Person.name", "Query.persons"]


def test_a_batch_that_released_data_is_allowed_even_if_one_operation_was_refused(
    live: InProcess, seeded: Path, token_for: Callable[[str], str]
) -> None:
    batch = [{"query": "{ persons(first: 1) { edges { node { name } } } }"},
             {"query": "{ persons(first: 1) { edges { node { religion } } } }"}]  # fmt: skip
    response = send(live, batch, token_for("PY-TAX"))
    answers = response.json()
    assert answers[0]["data"] is not None
    assert answers[1]["errors"][0]["extensions"]["code"] == "FORBIDDEN_FIELD"
    record = audit_of(seeded, response.headers["x-request-id"])
    assert record["decision"] == "allowed"
    assert record["errorCodes"] == ["FORBIDDEN_FIELD"]
    assert record["refusedFields"] == ["Person.religion"]
