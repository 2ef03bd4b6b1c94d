"""Catalogue changes (Art. 9, 19): a reduction waits for an approval, an addition does not; the
history records who put each policy into force; diffs show what changes and whom it hurts."""

from __future__ import annotations

import dataclasses
import json
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from click.testing import CliRunner

from gateway.cli import main
from gateway.http.app import create_app
from gateway.identity.dev_keys import dev_signing_key, issue_token
from gateway.settings import Settings
from policies.catalog import SHIPPED_CATALOG
from tests.conftest import NOW
from tests.gateway.conftest import LiveServer, isolated
from tests.gateway.http.test_audit import audit_of, first_person

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx
    import pytest
    from click.testing import Result

#: Civil affairs loses marital status (query and verify): GZ-CA and TH-CA lose it.
MARITAL = ("duties: [civil-affairs, household-registration, public-security, "
           "housing-provident-fund]", "duties: [household-registration, public-security, "
           "housing-provident-fund]")  # fmt: skip
#: Civil affairs gains phone numbers: an addition only.
PHONE = ("phone: {sharing: conditional, duties: [household-registration, public-security]}",
         "phone: {sharing: conditional, duties: [household-registration, public-security, "
         "civil-affairs]}")  # fmt: skip
APPROVAL = "GZ-GOV-2026-117"
GOVGATE = shutil.which("govgate") or str(Path(sys.executable).with_name("govgate"))


def copy_catalogue(folder: Path, *changes: tuple[str, str]) -> Path:
    """The shipped catalogue (and its rules) in `folder`, with `changes` made."""
    folder.mkdir(parents=True, exist_ok=True)
    text = SHIPPED_CATALOG.read_text("utf-8")
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = folder / "catalog.yaml"
    path.write_text(text, "utf-8")
    shutil.copy(SHIPPED_CATALOG.with_name("guangzhou.rules.csv"), folder / "catalog.rules.csv")
    return path


def edit(path: Path, *changes: tuple[str, str]) -> None:
    text = path.read_text("utf-8")
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    path.write_text(text, "utf-8")


def gateway(seeded: Path, folder: Path, catalog: Path, approval: str | None = None) -> LiveServer:
    """A gateway on `catalog` with its own audit and policy store in `folder`."""
    settings = dataclasses.replace(Settings.demo(seeded), catalog=catalog,
                                   rules=catalog.with_name("catalog.rules.csv"))  # fmt: skip
    return LiveServer(create_app(isolated(settings, folder), clock=lambda: NOW, approval=approval))


def reload(server: LiveServer, token: str, **body: Any) -> httpx.Response:
    return server.client.post("/admin/policy/reload", json=body or None, timeout=60,
                      headers={"Authorization": f"Bearer {token}"})  # fmt: skip


def marital(
    server: LiveServer, token: str, someone: str, duty: str | None = None
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} | ({"Govgate-Duty": duty} if duty else {})
    query = f'{{ person(idNumber: "{someone}") {{ maritalStatus }} }}'
    response = server.client.post("/graphql", json={"query": query}, headers=headers)
    body: dict[str, Any] = response.json()
    return body


def version(server: LiveServer) -> str:
    return str(server.client.get("/healthz").json()["policyVersion"])


def history(folder: Path) -> list[dict[str, Any]]:
    result = CliRunner().invoke(main, ["catalog", "history", "--json", "--data", str(folder)])
    assert result.exit_code == 0, result.output
    entries: list[dict[str, Any]] = json.loads(result.output)
    return entries


def tianhe(seeded: Path) -> str:
    with closing(sqlite3.connect(seeded / "persons.db")) as db:
        (key,) = db.execute("SELECT id_number FROM persons WHERE division_code = '440106' "
                            "ORDER BY id_number LIMIT 1").fetchone()  # fmt: skip
    return str(key)


# -- reload: reductions need an approval, additions do not ----------------------------------------


def test_a_reduction_without_approval_is_refused_listing_each_and_the_old_policy_stays(
    seeded: Path, tmp_path: Path, token_for: Callable[[str], str]
) -> None:
    catalog = copy_catalogue(tmp_path)
    with gateway(seeded, tmp_path, catalog) as server:
        before, someone = version(server), tianhe(seeded)
        edit(catalog, MARITAL)
        refused = reload(server, token_for("GZ-DATA"))
        assert refused.status_code == 409
        body = refused.json()
        assert body["errors"][0]["extensions"]["code"] == "APPROVAL_REQUIRED"
        assert "Art. 9" in body["errors"][0]["message"]
        assert "TH-CA may no longer query Person.maritalStatus" in body["errors"][0]["message"]
        assert {(r["agency"], r["method"], r["field"]) for r in body["removed"]} == {
            (agency, method, "Person.maritalStatus")
            for agency in ("GZ-CA", "TH-CA") for method in ("query", "verify")
        }  # fmt: skip
        assert body["policyVersion"] == before == version(server)
        assert "errors" not in marital(server, token_for("TH-CA"), someone)
        record = audit_of(tmp_path, refused.headers["x-request-id"])
        assert (record["decision"], record["errorCodes"]) == ("refused", ["APPROVAL_REQUIRED"])
        assert len(history(tmp_path)) == 1  # nothing was published
        for bad in ({"approval": " "}, {"approval": "x\ny"}, {"approve": APPROVAL}):
            answer = reload(server, token_for("GZ-DATA"), **bad)
            assert answer.status_code == 400, bad
            assert answer.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
        assert version(server) == before


def test_with_an_approval_the_reduction_is_served_and_recorded_in_the_history(
    seeded: Path, tmp_path: Path, token_for: Callable[[str], str]
) -> None:
    catalog = copy_catalogue(tmp_path)
    admin = issue_token(dev_signing_key(seeded), agency="GZ-DATA", officer="440100-0001")
    with gateway(seeded, tmp_path, catalog) as server:
        someone = tianhe(seeded)
        edit(catalog, MARITAL)
        approved = reload(server, admin, approval=APPROVAL)
        assert approved.status_code == 200, approved.text
        assert approved.json()["approval"] == APPROVAL
        assert len(approved.json()["removed"]) == 4
        answer = marital(server, token_for("TH-CA"), someone)
        assert [e["extensions"]["code"] for e in answer["errors"]] == ["FORBIDDEN_FIELD"]
        record = audit_of(tmp_path, approved.headers["x-request-id"])
        assert f"policy-approval:{APPROVAL}" in record["flags"]
        assert record["officer"] == "440100-0001"
    first, second = history(tmp_path)
    assert (first["occasion"], first["approval"], first["removed"]) == ("start-up", None, [])
    assert second["number"] == 2
    assert second["version"] == approved.json()["policyVersion"]
    assert (second["occasion"], second["agency"], second["officer"], second["approval"]) == (
        "reload", "GZ-DATA", "440100-0001", APPROVAL)  # fmt: skip
    assert second["publishedAt"] == "2026-11-26T08:00:00.000000Z"
    assert len(second["removed"]) == 4
    table = CliRunner().invoke(main, ["catalog", "history", "--data", str(tmp_path)])
    assert table.exit_code == 0, table.output
    assert APPROVAL in table.output
    assert "GZ-DATA (officer 440100-0001), reload" in table.output
    assert "  - TH-CA may no longer query Person.maritalStatus" in table.output


def test_the_reload_command_needs_approval_for_a_reduction_and_passes_it_on(
    seeded: Path, tmp_path: Path
) -> None:
    catalog = copy_catalogue(tmp_path)
    with gateway(seeded, tmp_path, catalog) as server:
        edit(catalog, MARITAL)
        command = [GOVGATE, "policy", "reload", "--url", server.url, "--data", str(seeded)]
        refused = subprocess.run(command, capture_output=True, text=True, timeout=120,
                                 check=False)  # fmt: skip
        assert refused.returncode == 1
        assert "needs the government's approval (Art. 9)" in refused.stderr
        assert "GZ-CA may no longer verify Person.maritalStatus" in refused.stderr
        approved = subprocess.run([*command, "--approval", APPROVAL], capture_output=True,
                                  text=True, timeout=120, check=False)  # fmt: skip
        assert approved.returncode == 0, approved.stderr
        assert f"approval {APPROVAL} recorded" in approved.stdout
    assert history(tmp_path)[-1]["approval"] == APPROVAL


def test_additions_take_effect_at_once_without_approval(
    seeded: Path, tmp_path: Path, token_for: Callable[[str], str]
) -> None:
    catalog = copy_catalogue(tmp_path)
    with gateway(seeded, tmp_path, catalog) as server:
        edit(catalog, PHONE)
        answer = reload(server, token_for("GZ-DATA"))
        assert answer.status_code == 200, answer.text
        assert answer.json()["removed"] == []
        assert {(a["agency"], a["field"]) for a in answer.json()["added"]} == {
            ("GZ-CA", "Person.phone"), ("TH-CA", "Person.phone")}  # fmt: skip
    latest = history(tmp_path)[-1]
    assert (latest["approval"], latest["removed"], latest["added"]) == (None, [], 2)


# -- start-up: files that reduce are not served without approval ---------------------------------


def test_a_gateway_started_on_a_reducing_catalogue_serves_the_published_policy_until_approved(
    seeded: Path, tmp_path: Path, token_for: Callable[[str], str], caplog: pytest.LogCaptureFixture
) -> None:
    catalog = copy_catalogue(tmp_path)
    someone = tianhe(seeded)
    with gateway(seeded, tmp_path, catalog) as first:
        published = version(first)
    edit(catalog, MARITAL)
    with gateway(seeded, tmp_path, catalog) as unapproved:
        health = unapproved.client.get("/healthz").json()
        assert health["policyVersion"] == published
        assert health["awaitingApproval"]["reductions"] == 4
        assert "errors" not in marital(unapproved, token_for("TH-CA"), someone)
    assert any("needs the government's approval (Art. 9)" in r.getMessage()
               and r.levelname == "ERROR" for r in caplog.records)  # fmt: skip
    assert len(history(tmp_path)) == 1
    with gateway(seeded, tmp_path, catalog, approval=APPROVAL) as approved:
        health = approved.client.get("/healthz").json()
        assert health["policyVersion"] != published
        assert "awaitingApproval" not in health
        assert "errors" in marital(approved, token_for("TH-CA"), someone)
    latest = history(tmp_path)[-1]
    assert (latest["occasion"], latest["approval"], len(latest["removed"])) == (
        "start-up", APPROVAL, 4)  # fmt: skip


# -- catalog diff --------------------------------------------------------------------------------


def diff(*arguments: str) -> Result:
    return CliRunner().invoke(main, ["catalog", "diff", *arguments, "--as-of", "2026-11-26"])


def test_catalog_diff_lists_additions_and_removals_and_exits_one_when_anything_is_removed(
    tmp_path: Path,
) -> None:
    changed = copy_catalogue(tmp_path / "new", MARITAL, PHONE,
                             ("frequency: quarterly", "frequency: within 30 days"))  # fmt: skip
    removing = diff(str(SHIPPED_CATALOG), str(changed))
    assert removing.exit_code == 1, removing.output
    assert "Removed (4; Art. 9: needs the government's approval):" in removing.output
    assert "  - TH-CA may no longer query Person.maritalStatus" in removing.output
    assert "  + GZ-CA may now query Person.phone" in removing.output
    assert "  ~ frequency changed: land-use-survey: quarterly -> within 30 days" in removing.output
    assert "`govgate policy reload --approval REF`" in removing.output
    fewer = copy_catalogue(tmp_path / "fewer", MARITAL)
    adding = diff(str(fewer), str(SHIPPED_CATALOG), "--json")  # the way back only adds
    assert adding.exit_code == 0, adding.output
    data = json.loads(adding.output)
    assert data["removed"] == []
    assert data["added"][0] == {"kind": "grant", "agency": "GZ-CA", "duty": None,
                                "method": "query", "field": "Person.maritalStatus",
                                "change": "added"}  # fmt: skip
    both = {(agency, method) for agency in ("GZ-CA", "TH-CA") for method in ("query", "verify")}
    assert {(c["agency"], c["method"]) for c in data["added"]} == both
    same = diff(str(SHIPPED_CATALOG), str(SHIPPED_CATALOG))
    assert same.exit_code == 0
    assert "No changes: both grant exactly the same." in same.output


def test_catalog_diff_names_published_versions(
    seeded: Path, tmp_path: Path, token_for: Callable[[str], str]
) -> None:
    catalog = copy_catalogue(tmp_path)
    with gateway(seeded, tmp_path, catalog) as server:
        edit(catalog, PHONE)
        assert reload(server, token_for("GZ-DATA")).status_code == 200
    store = ["--data", str(tmp_path)]
    forward = diff("@1", "@latest", *store)
    assert forward.exit_code == 0, forward.output
    assert "TH-CA may now query Person.phone" in forward.output
    prefix = history(tmp_path)[1]["version"][:8]
    back = diff(f"@{prefix}", str(SHIPPED_CATALOG), *store)
    assert back.exit_code == 1, back.output
    assert "from @" in back.output
    missing = diff("@7", "@latest", *store)
    assert missing.exit_code == 2
    assert "There is no published policy @7" in missing.output
    nowhere = diff("@latest", str(SHIPPED_CATALOG))
    assert nowhere.exit_code == 2
    assert "give --data DIR" in nowhere.output


def test_impact_counts_the_audited_reads_of_each_removed_grant(
    seeded: Path, tmp_path: Path, token_for: Callable[[str], str]
) -> None:
    catalog = copy_catalogue(tmp_path)
    someone = tianhe(seeded)
    with gateway(seeded, tmp_path, catalog) as server:
        for duty in (None, None, "civil-affairs"):
            assert "errors" not in marital(server, token_for("TH-CA"), someone, duty)
        assert "errors" not in marital(server, token_for("GZ-CA"), first_person(seeded))
        # Reads that do not touch marital status, and a refusal, are not its use.
        name_only = {"query": f'{{ person(idNumber: "{someone}") {{ name }} }}'}
        server.client.post("/graphql", json=name_only,
                   headers={"Authorization": f"Bearer {token_for('TH-CA')}"})  # fmt: skip
        # GZ-PSB reads phone once under public-security, once naming no duty.
        phone = {"query": f'{{ person(idNumber: "{someone}") {{ phone }} }}'}
        for duty in ("public-security", None):
            headers = {"Authorization": f"Bearer {token_for('GZ-PSB')}"}
            server.client.post("/graphql", json=phone,
                       headers=headers | ({"Govgate-Duty": duty} if duty else {}))  # fmt: skip
    moved = (PHONE[0], "phone: {sharing: conditional, duties: [household-registration]}")
    changed = copy_catalogue(tmp_path / "new", MARITAL, moved)
    result = diff(str(catalog), str(changed), "--impact", "--json", "--data", str(tmp_path))
    assert result.exit_code == 1, result.output
    data = json.loads(result.output)
    assert data["impact"] == {"from": "2026-08-29", "to": "2026-11-26"}
    used = {(r["agency"], r["duty"], r["method"], r["field"]): r["used"]["requests"]
            for r in data["removed"]}  # fmt: skip
    assert used == {
        ("TH-CA", None, "query", "Person.maritalStatus"): 3,
        ("TH-CA", None, "verify", "Person.maritalStatus"): 0,
        ("GZ-CA", None, "query", "Person.maritalStatus"): 1,
        ("GZ-CA", None, "verify", "Person.maritalStatus"): 0,
        ("GZ-PSB", "public-security", "query", "Person.phone"): 1,
    }
    text = diff(str(catalog), str(changed), "--impact", "--data", str(tmp_path), "--days", "30")
    assert "used by TH-CA in 3 requests in 2026-10-28 to 2026-11-26 (UTC), last at " \
        "2026-11-26T08:00:00.000000Z" in text.output  # fmt: skip
    outside = CliRunner().invoke(main, ["catalog", "diff", str(catalog), str(changed), "--impact",
                                        "--json", "--data", str(tmp_path), "--as-of",
                                        "2027-03-01", "--days", "30"])  # fmt: skip
    assert all(r["used"]["requests"] == 0 for r in json.loads(outside.output)["removed"])
