"""The govgate command line, run as the installed console script."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from policies.catalog import SHIPPED_CATALOG

GOVGATE = shutil.which("govgate") or str(Path(sys.executable).with_name("govgate"))
DAY = ["--date", "2026-11-26"]


def govgate(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GOVGATE, *args], capture_output=True, text=True, timeout=300, cwd=cwd, check=False
    )


def test_policy_check_passes_the_shipped_catalogue() -> None:
    result = govgate("policy", "check", *DAY)
    assert result.returncode == 0, result.stderr
    assert "no problems. 15 agencies" in result.stdout
    assert "2 author rules" in result.stdout
    # Every derivation its grants allow is acknowledged: no warnings.
    assert "acknowledged in the catalogue, 0 warnings." in result.stdout
    assert result.stderr == ""


def test_policy_check_warns_about_an_unacknowledged_derivation_and_still_exits_zero(
    tmp_path: Path,
) -> None:
    text = SHIPPED_CATALOG.read_text("utf-8")
    start = text.index("      licenseNumber:\n")
    ack = text.index("        acknowledges:\n", start)
    end = text.index("      kind: {sharing: unconditional}", ack)
    edited = tmp_path / "edited.yaml"
    edited.write_text(text[:ack] + text[end:], "utf-8")
    result = govgate("policy", "check", "--catalog", str(edited), *DAY)
    assert result.returncode == 0, result.stderr
    assert "7 warnings (warnings do not fail the check)." in result.stdout
    warnings = result.stderr.splitlines()
    assert len(warnings) == 7
    assert all(line.startswith(f"{edited}:") for line in warnings)
    assert any("warning: PY-TAX reads License.licenseNumber" in line and
               "not granted License.divisionCode" in line for line in warnings)  # fmt: skip


def test_policy_check_prints_every_problem_and_exits_non_zero(tmp_path: Path) -> None:
    text = SHIPPED_CATALOG.read_text("utf-8")
    text = text.replace("duties: [civil-affairs]}", "duties: [civil-afairs]}", 1)
    text = text.replace("classifiedPost: {sharing: none, secret: true}",
                        "classifiedPost: {sharing: unconditional, secret: true}")  # fmt: skip
    broken = tmp_path / "broken.yaml"
    broken.write_text(text, "utf-8")
    result = govgate("policy", "check", "--catalog", str(broken))
    assert result.returncode == 1
    assert "has 2 problems" in result.stderr
    assert "unknown duty 'civil-afairs'; did you mean 'civil-affairs'?" in result.stderr
    assert "a secret field can never be shared (Art. 16" in result.stderr
    assert f"{broken}:" in result.stderr


def test_policy_compile_writes_identical_files_each_time(tmp_path: Path) -> None:
    for out in ("one", "two"):
        result = govgate("policy", "compile", "--out", str(tmp_path / out))
        assert result.returncode == 0, result.stderr
        assert "policy version" in result.stdout
    for name in ("model.conf", "policy.csv"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_policy_compile_refuses_broken_author_rules_and_writes_nothing(tmp_path: Path) -> None:
    rules = tmp_path / "rules.csv"
    rules.write_text("p, GZ-PSB, Person.religion, query, allow, *, please\n", "utf-8")
    result = govgate("policy", "compile", "--rules", str(rules), "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    assert f"{rules}:1: Person.religion is not shareable" in result.stderr
    assert not (tmp_path / "out").exists()


def test_explain_exits_zero_when_allowed_and_names_rule_entry_and_article() -> None:
    result = govgate("policy", "explain", "--agency", "TH-CA",
                     "--field", "Person.maritalStatus", *DAY)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ALLOWED: TH-CA query Person.maritalStatus")
    assert "p, duty:civil-affairs, Person.maritalStatus, query, allow" in result.stdout
    assert "dataset person-marriage" in result.stdout
    assert "article: Art. 4, 18" in result.stdout


def test_explain_exits_one_when_denied_and_prints_json_on_request() -> None:
    result = govgate("policy", "explain", "--agency", "GZ-HPF", "--field",
                     "Person.maritalStatus", "--json", *DAY)  # fmt: skip
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["allowed"] is False
    assert data["source"] == "rules:guangzhou.rules.csv:9"
    assert "complaint 2026-031" in data["entry"]
    assert set(data) >= {"rule", "entry", "article", "reason", "policy_version"}


def test_explain_of_a_denied_field_names_the_granted_fields_that_reveal_it() -> None:
    result = govgate("policy", "explain", "--agency", "PY-TAX",
                     "--field", "License.divisionCode", *DAY)  # fmt: skip
    assert result.returncode == 1
    assert (
        "  revealed by: License.licenseNumber, which PY-TAX may read, reveals all of it: "
        "characters 4-9 are the division code (acknowledged in the catalogue:" in result.stdout
    )


def test_explain_of_a_secret_field_cites_article_16() -> None:
    result = govgate("policy", "explain", "--agency", "GZ-PSB",
                     "--field", "Person.classifiedPost", *DAY)  # fmt: skip
    assert result.returncode == 1
    assert "article: Art. 16" in result.stdout


def test_explain_of_a_verify_only_grant_depends_on_the_method() -> None:
    verify = govgate("policy", "explain", "--agency", "GZ-WATER", "--field", "Person.name",
                     "--method", "verify", *DAY)  # fmt: skip
    query = govgate("policy", "explain", "--agency", "GZ-WATER", "--field", "Person.name", *DAY)
    assert (verify.returncode, query.returncode) == (0, 1)
    assert "utility" in query.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--agency", "GZ-NOPE", "--field", "Person.name"], "'GZ-NOPE' is not an agency"),
        (["--agency", "GZ-PSB", "--field", "Person.nme"], "did you mean 'name'"),
    ],
)
def test_explain_exits_two_on_bad_input_with_a_clear_message(args: list[str], message: str) -> None:
    result = govgate("policy", "explain", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_explain_can_read_compiled_files_instead_of_the_catalogue(tmp_path: Path) -> None:
    assert govgate("policy", "compile", "--out", str(tmp_path)).returncode == 0
    policy_csv = tmp_path / "policy.csv"
    text = policy_csv.read_text("utf-8")
    # A hand-edited compiled policy is what explain then reports on.
    policy_csv.write_text(text.replace("p, duty:civil-affairs, Person.maritalStatus", "#"), "utf-8")
    result = govgate("policy", "explain", "--agency", "TH-CA", "--field", "Person.maritalStatus",
                     "--policy", str(tmp_path), *DAY)  # fmt: skip
    assert result.returncode == 1


def test_grants_lists_fields_and_row_scope_per_type() -> None:
    result = govgate("policy", "grants", "--agency", "PY-TAX", "--json", *DAY)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["types"]["LandParcel"]["scope"] == "division"
    assert data["types"]["LandParcel"]["division"] == "440113"
    assert "geometry" in data["types"]["LandParcel"]["query"]


def test_seed_writes_four_databases_and_reports_each(tmp_path: Path) -> None:
    result = govgate("seed", "--data", str(tmp_path), "--persons", "400", "--seed", "3")
    assert result.returncode == 0, result.stderr
    for name in ("persons", "entities", "land", "licenses"):
        assert (tmp_path / f"{name}.db").exists()
    assert "persons          400 records" in result.stdout
    assert "licenses         200 records" in result.stdout
    again = govgate("seed", "--data", str(tmp_path), "--persons", "400")
    assert again.returncode == 2
    assert "already holds data (persons 400 records, entities 80 records" in again.stderr
    assert "pass --replace" in again.stderr
    assert "Traceback" not in again.stderr


def test_seed_rejects_a_malformed_source_url(tmp_path: Path) -> None:
    result = govgate("seed", "--source", "persons", "--persons", "10")
    assert result.returncode == 2
    assert "is not of the form SOURCE=URL" in result.stderr
    result = govgate("seed", "--source", "people=sqlite+aiosqlite:///x.db", "--persons", "10")
    assert "'people' is not a source" in result.stderr


def test_demo_seeds_once_and_compiles_the_shipped_catalogue(tmp_path: Path) -> None:
    first = govgate("demo", "--data", str(tmp_path / "demo"), "--no-serve")
    assert first.returncode == 0, first.stderr
    assert "Seeding demo data" in first.stdout
    assert (tmp_path / "demo" / "policy" / "policy.csv").exists()
    second = govgate("demo", "--data", str(tmp_path / "demo"), "--no-serve")
    assert second.returncode == 0, second.stderr
    assert "Demo data already in" in second.stdout
    assert "TH-CA  广州市天河区民政局" in second.stdout


def test_compile_into_a_path_that_is_a_file_says_so(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", "utf-8")
    result = govgate("policy", "compile", "--out", str(blocker / "sub"))
    assert result.returncode == 2
    assert "cannot write the policy into" in result.stderr
    assert "Traceback" not in result.stderr


def test_explain_refuses_files_compiled_from_another_catalogue_version(tmp_path: Path) -> None:
    assert govgate("policy", "compile", "--out", str(tmp_path)).returncode == 0
    policy_csv = tmp_path / "policy.csv"
    text = policy_csv.read_text("utf-8").replace("version 2026.11", "version 2025.01", 1)
    policy_csv.write_text(text, "utf-8")
    result = govgate("policy", "explain", "--agency", "TH-CA", "--field", "Person.name",
                     "--policy", str(tmp_path))  # fmt: skip
    assert result.returncode == 2
    assert "compiled from catalogue version 2025.01" in result.stderr


@pytest.mark.postgres
def test_seed_never_prints_a_password_from_a_source_url(postgres_url: str, tmp_path: Path) -> None:
    secret = postgres_url.replace("postgres@", "postgres:s3cret-word@")  # trust auth ignores it
    result = govgate("seed", "--data", str(tmp_path), "--persons", "50", "--source",
                     f"persons={secret}")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "s3cret-word" not in result.stdout + result.stderr
    assert "postgres:***@" in result.stdout


def test_explain_and_grants_decide_under_a_duty_and_refuse_one_not_held() -> None:
    duty = ["--agency", "GZ-PSB", "--duty", "traffic-management", *DAY]
    denied = govgate("policy", "explain", *duty, "--field", "Person.phone")
    assert denied.returncode == 1
    assert denied.stdout.startswith("DENIED: GZ-PSB under its duty traffic-management query")
    assert govgate("policy", "explain", "--agency", "GZ-PSB", "--field", "Person.phone",
                   *DAY).returncode == 0  # fmt: skip
    grants = json.loads(govgate("policy", "grants", *duty, "--json").stdout)
    assert grants["duty"] == "traffic-management"
    assert grants["types"]["Person"]["query"] == ["idNumber", "name"]
    refused = govgate("policy", "grants", "--agency", "GZ-PSB", "--duty", "taxation")
    assert refused.returncode == 2
    assert "GZ-PSB does not hold the duty 'taxation'" in refused.stderr
