"""Evidence over real HTTP: vouchers on licence answers (Art. 23), freshness (Art. 17), and
tampered licences flagged in the audit log."""

from __future__ import annotations

import dataclasses
import json
import shutil
import sqlite3
from contextlib import closing
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner

from gateway.cli import main
from gateway.http.app import create_app
from gateway.settings import Settings
from sources.engines import default_urls
from tests.conftest import NOW
from tests.gateway.conftest import InProcess, without_cost
from tests.gateway.http.test_audit import audit_of

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    import httpx

LICENCES = "{ licenses(first: 3) { edges { node { licenseNumber kind status } } } }"
ENTITIES = "{ legalEntities(first: 1) { edges { node { name } } } }"


def send(server: InProcess, token: str, query: str, **variables: object) -> httpx.Response:
    return server.client.post("/graphql", json={"query": query, "variables": variables},
                      headers={"Authorization": f"Bearer {token}"}, timeout=30)  # fmt: skip


def verify(folder: Path, tmp_path: Path, response: dict[str, Any], *extra: str) -> tuple[int, str]:
    path = tmp_path / "response.json"
    path.write_text(json.dumps(response, ensure_ascii=False), "utf-8")
    result = CliRunner().invoke(
        main, ["voucher", "verify", "--response", str(path), "--data", str(folder), *extra]
    )
    return result.exit_code, result.output


def test_a_licence_answer_carries_a_voucher_that_verifies(
    live: InProcess, seeded: Path, tmp_path: Path, token_for: Callable[[str], str]
) -> None:
    response = send(live, token_for("GZ-AMR"), LICENCES)
    body = response.json()
    voucher = body["extensions"]["voucher"]
    assert voucher["agency"] == "GZ-AMR"
    assert voucher["datasets"] == ["electronic-licences"]
    assert voucher["requestId"] == response.headers["x-request-id"]
    assert voucher["issuedAt"] == "2026-11-26T08:00:00.000000Z"
    assert audit_of(seeded, response.headers["x-request-id"])["vouchers"] == [voucher["id"]]
    code, output = verify(seeded, tmp_path, body)
    assert code == 0, output
    assert "exactly this data was returned to GZ-AMR" in output


def test_a_changed_response_or_voucher_fails_verification_saying_what(
    live: InProcess, seeded: Path, tmp_path: Path, token_for: Callable[[str], str]
) -> None:
    body = send(live, token_for("GZ-AMR"), LICENCES).json()
    altered = json.loads(json.dumps(body))
    altered["data"]["licenses"]["edges"][1]["node"]["status"] = "revoked"
    code, output = verify(seeded, tmp_path, altered)
    assert code == 1
    assert "does not match the voucher" in output
    forged = json.loads(json.dumps(body))
    forged["extensions"]["voucher"]["agency"] = "TH-CA"
    code, output = verify(seeded, tmp_path, forged)
    assert code == 1
    assert "signature" in output
    assert "TH-CA" in output


def test_answers_without_licence_data_carry_no_voucher(
    live: InProcess, token_for: Callable[[str], str]
) -> None:
    persons = send(live, token_for("GZ-PSB"), "{ persons(first: 2) { edges { node { name } } } }")
    assert "extensions" not in without_cost(persons.json())
    none_found = send(live, token_for("GZ-AMR"),
                      '{ license(licenseNumber: "BL-440103-2005-999999-3") { kind } }')  # fmt: skip
    assert none_found.json()["data"] == {"license": None}
    assert "voucher" not in none_found.json().get("extensions", {})


def test_an_agency_looks_up_its_own_vouchers_and_no_one_elses(
    live: InProcess, token_for: Callable[[str], str]
) -> None:
    body = send(live, token_for("GZ-AMR"), LICENCES).json()
    voucher_id = body["extensions"]["voucher"]["id"]
    query = ("query($id: String!, $data: JSON!) { voucher(id: $id) { agency datasets "
             "signatureValid confirms(data: $data) } }")  # fmt: skip
    own = send(live, token_for("GZ-AMR"), query, id=voucher_id, data=body["data"]).json()
    assert own["data"]["voucher"] == {
        "agency": "GZ-AMR", "datasets": ["electronic-licences"],
        "signatureValid": True, "confirms": True,
    }  # fmt: skip
    altered = json.loads(json.dumps(body["data"]))
    altered["licenses"]["edges"][0]["node"]["kind"] = "x"
    changed = send(live, token_for("GZ-AMR"), query, id=voucher_id, data=altered).json()
    assert changed["data"]["voucher"]["confirms"] is False
    other = send(live, token_for("PY-TAX"), query, id=voucher_id, data=body["data"]).json()
    assert other["data"] == {"voucher": None}


def test_old_vouchers_verify_after_the_signing_key_is_rotated(
    live: InProcess, seeded: Path, tmp_path: Path, token_for: Callable[[str], str]
) -> None:
    body = send(live, token_for("GZ-AMR"), LICENCES).json()
    folder = tmp_path / "copy"
    shutil.copytree(seeded, folder)
    rotated = CliRunner().invoke(main, ["voucher", "rotate-key", "--data", str(folder)])
    assert rotated.exit_code == 0, rotated.output
    code, output = verify(folder, tmp_path, body)
    assert code == 0, output


# -- a copy of the data, changed behind the gateway's back --------------------------------------


@pytest.fixture
def altered(seeded: Path, tmp_path: Path) -> Iterator[tuple[InProcess, Path, str]]:
    """A gateway over a copy whose licences were last updated three days ago and one of whose
    licences was revoked and then set back to valid in its database."""
    folder = tmp_path / "data"
    folder.mkdir()
    for name in ("persons", "entities", "land", "licenses"):
        shutil.copy(seeded / f"{name}.db", folder / f"{name}.db")
    with closing(sqlite3.connect(folder / "licenses.db")) as db, db:
        db.execute("UPDATE licenses SET updated_at = datetime(updated_at, '-3 days')")
        (number,) = db.execute(
            "SELECT license_number FROM licenses WHERE status != 'valid' LIMIT 1"
        ).fetchone()
        db.execute("UPDATE licenses SET status = 'valid' WHERE license_number = ?", (number,))
    settings = dataclasses.replace(
        Settings.demo(seeded),
        sources=default_urls(folder),
        audit_url=f"sqlite+aiosqlite:///{folder / 'audit.db'}",
        signing_keys=folder / "keys" / "gateway",
    )
    with InProcess(create_app(settings, clock=lambda: NOW)) as server:
        yield server, folder, number


def test_fresh_datasets_are_within_their_frequency(
    live: InProcess, token_for: Callable[[str], str]
) -> None:
    query = "{ freshness { dataset frequency lastUpdated ageHours maxAgeHours withinFrequency } }"
    rows = send(live, token_for("GZ-AMR"), query).json()["data"]["freshness"]
    assert {row["dataset"] for row in rows} >= {"person-basic", "electronic-licences"}
    assert all(row["withinFrequency"] for row in rows), rows
    licences = next(row for row in rows if row["dataset"] == "electronic-licences")
    # GZ-AMR may read License.updatedAt: it gets the time to the second and the age.
    assert 8 <= licences["ageHours"] <= 8 + 24  # data as of midnight, clock at 08:00
    assert len(licences["lastUpdated"]) == len("2026-11-26T00:00:00Z")
    assert licences["maxAgeHours"] == 24
    assert "warnings" not in send(live, token_for("GZ-AMR"), LICENCES).json().get("extensions", {})


def test_freshness_tells_an_agency_no_more_than_its_grants_and_scope(
    live: InProcess, seeded: Path, token_for: Callable[[str], str]
) -> None:
    query = "{ freshness { dataset lastUpdated ageHours withinFrequency } }"
    water = send(live, token_for("GZ-WATER"), query).json()["data"]["freshness"]
    # It may verify a name against an ID number, shared with it by person-verification only.
    assert [row["dataset"] for row in water] == ["person-verification"]
    # PY-TAX may not read Person.updatedAt and sees only Panyu (440113): the day its own
    # division's newest person record changed, no hour, no age.
    answer = send(live, token_for("PY-TAX"), query).json()["data"]["freshness"]
    tax = {row["dataset"]: row for row in answer}
    assert "person-verification" not in tax
    with closing(sqlite3.connect(seeded / "persons.db")) as db:
        (panyu,) = db.execute(
            "SELECT max(updated_at) FROM persons WHERE division_code = '440113'"
        ).fetchone()
    assert tax["person-basic"]["lastUpdated"] == panyu[:10]
    assert tax["person-basic"]["ageHours"] is None


def test_a_stale_dataset_is_reported_and_its_data_carries_a_warning(
    altered: tuple[InProcess, Path, str], token_for: Callable[[str], str]
) -> None:
    server, _, _ = altered
    rows = send(server, token_for("GZ-AMR"), "{ freshness { dataset withinFrequency } }").json()
    states = {row["dataset"]: row["withinFrequency"] for row in rows["data"]["freshness"]}
    assert states["electronic-licences"] is False
    assert states["entity-registration"] is True
    body = send(server, token_for("GZ-AMR"), LICENCES).json()
    [warning] = body["extensions"]["warnings"]
    assert (warning["code"], warning["dataset"]) == ("STALE_DATA", "electronic-licences")
    assert "Art. 17" in warning["message"]
    entities = send(server, token_for("GZ-AMR"), ENTITIES)
    assert "extensions" not in without_cost(entities.json())


def test_a_licence_altered_behind_the_gateways_back_is_flagged_in_the_audit_log(
    altered: tuple[InProcess, Path, str], token_for: Callable[[str], str]
) -> None:
    server, folder, number = altered
    query = "query($n: String!) { license(licenseNumber: $n) { status seal { valid } } }"
    response = send(server, token_for("GZ-AMR"), query, n=number)
    assert response.json()["data"]["license"] == {"status": "valid", "seal": {"valid": False}}
    record = audit_of(folder, response.headers["x-request-id"])
    assert record["flags"] == [f"seal-invalid:License:{number}"]


def test_a_stale_data_warning_tells_the_hour_only_to_an_agency_that_may_read_updated_at(
    altered: tuple[InProcess, Path, str], token_for: Callable[[str], str]
) -> None:
    server, folder, _ = altered
    with closing(sqlite3.connect(folder / "licenses.db")) as db:
        (newest,) = db.execute("SELECT max(updated_at) FROM licenses").fetchone()
    exact, day = newest[:19].replace(" ", "T") + "Z", newest[:10]
    # GZ-AMR may read License.updatedAt (market supervision): the time to the second.
    [amr] = send(server, token_for("GZ-AMR"), LICENCES).json()["extensions"]["warnings"]
    assert amr["lastUpdated"] == exact
    assert exact in amr["message"]
    # GZ-PSB reads these licences but not their updatedAt: the same warning, only the day,
    # in the message too.
    [psb] = send(server, token_for("GZ-PSB"), LICENCES).json()["extensions"]["warnings"]
    assert (psb["code"], psb["dataset"]) == ("STALE_DATA", "electronic-licences")
    assert psb["lastUpdated"] == day
    assert f"last updated on {day}," in psb["message"]
    assert newest[11:16] not in json.dumps(psb)  # the hour and minute appear nowhere
    rows = send(server, token_for("GZ-PSB"), "{ freshness { dataset lastUpdated ageHours } }")
    licences = next(row for row in rows.json()["data"]["freshness"]
                    if row["dataset"] == "electronic-licences")  # fmt: skip
    assert licences == {"dataset": "electronic-licences", "lastUpdated": day, "ageHours": None}
