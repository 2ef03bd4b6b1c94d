"""`govgate audit report`: usage per agency, dataset and field, counted from the audit log."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner

from gateway.cli import main
from gateway.trust.audit import AuditEntry, AuditStore

if TYPE_CHECKING:
    from pathlib import Path

    from click.testing import Result

    from gateway.trust.audit import Decision


def entry(at: str, agency: str | None, decision: Decision = "allowed", **facts: Any) -> AuditEntry:
    return AuditEntry(at=at, request_id=f"req-{at}", endpoint="/graphql", decision=decision,
                      agency=agency, policy_version="v1", **facts)  # fmt: skip


#: A month of requests, counted by hand below. The first and last records lie just outside
#: November; the second and the TH-CA allowed request sit on its first and last instants.
ENTRIES = [
    entry("2026-10-31T23:59:59.999999Z", "GZ-PSB", fields=("Person.phone",),
          records=("Person:OCT",)),
    entry("2026-11-01T00:00:00.000000Z", "GZ-PSB",
          fields=("Person.idNumber", "Person.name", "Query.person"), records=("Person:P1",)),
    entry("2026-11-15T10:00:00.000000Z", "GZ-PSB",
          fields=("Person.idNumber", "Person.maritalStatus", "Person.name", "Query.persons"),
          records=("Person:P1", "Person:P2", "Person:P3")),
    entry("2026-11-15T11:00:00.000000Z", "GZ-PSB", "refused",
          refused_fields=("Person.classifiedPost", "Person.religion"),
          error_codes=("FORBIDDEN_FIELD",)),
    entry("2026-11-05T09:00:00.000000Z", "GZ-WATER",
          fields=("Query.verifyPerson", "Verification.match"), flags=("verify:Person:P9",)),
    entry("2026-11-10T08:00:00.000000Z", None, "unauthenticated", reason="no token",
          error_codes=("UNAUTHENTICATED",)),
    entry("2026-11-11T08:00:00.000000Z", None, "unauthenticated", reason="expired",
          error_codes=("UNAUTHENTICATED",)),
    entry("2026-11-12T08:00:00.000000Z", "PY-TAX",
          fields=("LandParcel.area", "LandParcel.parcelCode", "Query.landParcels"),
          records=("LandParcel:L1", "LandParcel:L2")),
    entry("2026-11-20T08:00:00.000000Z", "TH-CA", "refused",
          refused_fields=("Person.phone", "Query.persons(phone:)"),
          error_codes=("FORBIDDEN_FIELD",)),
    # A batch: one operation refused, the other ran and read.
    entry("2026-11-21T08:00:00.000000Z", "TH-CA", "refused", fields=("Person.name",),
          refused_fields=("Person.phone",), records=("Person:P6",),
          error_codes=("FORBIDDEN_FIELD",)),
    entry("2026-11-22T08:00:00.000000Z", "TH-CA", "failed", fields=("Person.name",),
          error_codes=("SOURCE_UNAVAILABLE",)),
    entry("2026-11-30T23:59:59.999999Z", "TH-CA",
          fields=("LegalEntity.name", "Person.maritalStatus", "Person.name"),
          records=("Person:P4", "Person:P4", "LegalEntity:E1")),
    entry("2026-12-01T00:00:00.000000Z", "TH-CA", fields=("Person.phone",),
          records=("Person:DEC",)),
]  # fmt: skip

NOVEMBER = ["--from", "2026-11-01", "--to", "2026-11-30"]
USAGE = ("reads", "records", "refusals")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    async def fill() -> None:
        store = AuditStore(f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}")
        await store.create()
        await store.append(ENTRIES[:6])
        await store.append(ENTRIES[6:])
        await store.close()

    asyncio.run(fill())
    return tmp_path


def report(data_dir: Path, *arguments: str) -> Result:
    return CliRunner().invoke(main, ["audit", "report", "--data", str(data_dir), *arguments])


def section(output: str, title: str) -> list[dict[str, str]]:
    """The rows of the table under `title`, by column; a blank first cell repeats the last."""
    lines = output.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(title))
    header, rule = lines[start + 1], lines[start + 2]
    spans: list[tuple[int, int | None]] = [(m.start(), m.end()) for m in re.finditer("-+", rule)]
    spans[-1] = (spans[-1][0], None)  # the last column runs to the end of the line
    names = [header[a:b].strip() for a, b in spans]
    rows: list[dict[str, str]] = []
    for line in lines[start + 3 :]:
        if not line.strip():
            break
        cells = [line[a:b].strip() for a, b in spans]
        if not cells[0] and rows:
            cells[0] = rows[-1][names[0]]
        rows.append(dict(zip(names, cells, strict=True)))
    return rows


def by(rows: list[dict[str, str]], *keys: str) -> dict[tuple[str, ...], dict[str, str]]:
    return {tuple(row[k] for k in keys): row for row in rows}


def counts(row: dict[str, str], *columns: str) -> tuple[int, ...]:
    return tuple(int(row[c].replace(",", "") or 0) for c in columns)


def csv_rows(output: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(output)))


# -- the numbers ------------------------------------------------------------------------------


def test_the_summary_counts_requests_by_decision_per_agency(data_dir: Path) -> None:
    result = report(data_dir, *NOVEMBER)
    assert result.exit_code == 0, result.output
    assert "Usage report for all agencies, 2026-11-01 to 2026-11-30 (UTC)" in result.output
    rows = by(section(result.output, "Requests per agency"), "agency")
    columns = ("requests", "allowed", "refused", "unauthenticated", "failed", "records",
               "fields refused")  # fmt: skip
    assert counts(rows["TH-CA",], *columns) == (4, 1, 2, 0, 1, 4, 3)
    assert counts(rows["GZ-PSB",], *columns) == (3, 2, 1, 0, 0, 4, 2)
    assert counts(rows["PY-TAX",], *columns) == (1, 1, 0, 0, 0, 2, 0)
    assert counts(rows["GZ-WATER",], *columns) == (1, 1, 0, 0, 0, 0, 0)
    assert counts(rows["(no agency)",], *columns) == (2, 0, 0, 2, 0, 0, 0)
    assert counts(rows["total",], *columns) == (11, 5, 3, 2, 1, 10, 5)
    assert rows["TH-CA",]["name"] == "广州市天河区民政局"
    # The busiest agency first.
    assert [r["agency"] for r in section(result.output, "Requests per agency")][:2] == [
        "TH-CA", "GZ-PSB"
    ]  # fmt: skip


def test_each_dataset_counts_reads_records_and_refusals(data_dir: Path) -> None:
    output = report(data_dir, *NOVEMBER).output
    rows = by(section(output, "Per dataset"), "agency", "dataset")
    assert counts(rows["GZ-PSB", "person-basic"], *USAGE) == (2, 4, 2)
    assert counts(rows["GZ-PSB", "person-marriage"], *USAGE) == (1, 3, 0)
    assert counts(rows["TH-CA", "person-basic"], *USAGE) == (3, 3, 2)
    assert counts(rows["TH-CA", "person-marriage"], *USAGE) == (1, 2, 0)
    assert counts(rows["TH-CA", "entity-registration"], *USAGE) == (1, 1, 0)
    assert counts(rows["PY-TAX", "land-parcels"], *USAGE) == (1, 2, 0)
    assert counts(rows["PY-TAX", "land-use-survey"], *USAGE) == (1, 2, 0)
    # Person.idNumber and Person.name count towards person-basic, where they are queried,
    # never towards person-verification, which only verifies them.
    assert len(rows) == 7
    assert "person-verification" not in output


def test_each_field_counts_reads_records_and_refusals(data_dir: Path) -> None:
    output = report(data_dir, *NOVEMBER).output
    rows = by(section(output, "Per field"), "agency", "field")
    expected = {
        ("GZ-PSB", "Person.idNumber"): ("person-basic", 2, 4, 0),
        ("GZ-PSB", "Person.name"): ("person-basic", 2, 4, 0),
        ("GZ-PSB", "Person.religion"): ("person-basic", 0, 0, 1),
        ("GZ-PSB", "Person.classifiedPost"): ("person-basic", 0, 0, 1),
        ("GZ-PSB", "Person.maritalStatus"): ("person-marriage", 1, 3, 0),
        ("TH-CA", "Person.name"): ("person-basic", 3, 3, 0),
        ("TH-CA", "Person.phone"): ("person-basic", 0, 0, 2),
        ("TH-CA", "Person.maritalStatus"): ("person-marriage", 1, 2, 0),
        ("TH-CA", "LegalEntity.name"): ("entity-registration", 1, 1, 0),
        ("PY-TAX", "LandParcel.parcelCode"): ("land-parcels", 1, 2, 0),
        ("PY-TAX", "LandParcel.area"): ("land-use-survey", 1, 2, 0),
    }
    found = {key: (row["dataset"], *counts(row, *USAGE)) for key, row in rows.items()}
    # Query.* and Verification.* are not catalogue fields: they are not listed.
    assert found == expected


def test_agencies_are_ranked_by_refused_requests(data_dir: Path) -> None:
    output = report(data_dir, *NOVEMBER).output
    rows = section(output, "Most refused agencies")
    ranked = [(r["rank"], r["agency"], *counts(r, "refused requests", "fields refused"))
              for r in rows]  # fmt: skip
    assert ranked == [("1", "TH-CA", 2, 3), ("2", "GZ-PSB", 1, 2)]
    assert "Unauthenticated requests (no valid token, so no agency): 2" in output


def test_csv_is_one_tidy_table_with_the_same_numbers(data_dir: Path) -> None:
    result = report(data_dir, *NOVEMBER, "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        "from,to,level,agency,dataset,field,requests,allowed,refused,unauthenticated,failed,"
        "reads,records,refusals,duty,officer"
    )
    rows = csv_rows(result.output)
    assert {(r["from"], r["to"]) for r in rows} == {("2026-11-01", "2026-11-30")}
    agencies = by([r for r in rows if r["level"] == "agency"], "agency")
    assert counts(agencies["TH-CA",], "requests", "allowed", "refused", "failed", "records",
                  "refusals") == (4, 1, 2, 1, 4, 3)  # fmt: skip
    assert agencies["TH-CA",]["reads"] == ""
    assert counts(agencies["",], "requests", "unauthenticated") == (2, 2)
    datasets = by([r for r in rows if r["level"] == "dataset"], "agency", "dataset")
    assert counts(datasets["TH-CA", "person-basic"], *USAGE) == (3, 3, 2)
    assert counts(datasets["GZ-PSB", "person-marriage"], *USAGE) == (1, 3, 0)
    assert datasets["TH-CA", "person-basic"]["requests"] == ""
    fields = by([r for r in rows if r["level"] == "field"], "agency", "field")
    assert counts(fields["GZ-PSB", "Person.idNumber"], *USAGE) == (2, 4, 0)
    assert fields["GZ-PSB", "Person.idNumber"]["dataset"] == "person-basic"
    assert counts(fields["TH-CA", "Person.phone"], *USAGE) == (0, 0, 2)
    assert len(agencies) == 5
    assert len(datasets) == 7
    assert len(fields) == 11


# -- filters ----------------------------------------------------------------------------------


def test_agency_limits_the_report_to_that_agency(data_dir: Path) -> None:
    result = report(data_dir, *NOVEMBER, "--agency", "GZ-PSB")
    assert result.exit_code == 0, result.output
    assert "Usage report for agency GZ-PSB, 2026-11-01 to 2026-11-30 (UTC)" in result.output
    summary = by(section(result.output, "Requests per agency"), "agency")
    assert set(summary) == {("GZ-PSB",), ("total",)}
    assert counts(summary["total",], "requests", "allowed", "refused") == (3, 2, 1)
    datasets = section(result.output, "Per dataset")
    assert {r["agency"] for r in datasets} == {"GZ-PSB"}
    assert "TH-CA" not in result.output
    assert "Unauthenticated requests" not in result.output  # they belong to no agency


def test_agency_filters_the_csv_too(data_dir: Path) -> None:
    result = report(data_dir, *NOVEMBER, "--agency", "TH-CA", "--format", "csv")
    rows = csv_rows(result.output)
    assert {r["agency"] for r in rows} == {"TH-CA"}
    assert sum(int(r["reads"] or 0) for r in rows if r["level"] == "field") == 5


def test_the_first_and_last_days_are_included_whole(data_dir: Path) -> None:
    first = report(data_dir, "--from", "2026-11-01", "--to", "2026-11-01", "--format", "csv")
    rows = csv_rows(first.output)
    assert [(r["agency"], r["requests"]) for r in rows if r["level"] == "agency"] == [
        ("GZ-PSB", "1")
    ]  # the request at 00:00:00.000000 on the first day
    last = report(data_dir, "--from", "2026-11-30", "--to", "2026-11-30", "--format", "csv")
    rows = csv_rows(last.output)
    assert [(r["agency"], r["requests"]) for r in rows if r["level"] == "agency"] == [
        ("TH-CA", "1")
    ]  # the request at 23:59:59.999999 on the last day


def test_days_outside_the_period_are_left_out(data_dir: Path) -> None:
    output = report(data_dir, *NOVEMBER, "--format", "csv").output
    # Only the October and December requests read Person.phone.
    assert not [r for r in csv_rows(output) if r["field"] == "Person.phone" and r["reads"] != "0"]
    december = report(data_dir, "--from", "2026-12-01", "--to", "2026-12-31", "--format", "csv")
    fields = [r for r in csv_rows(december.output) if r["level"] == "field"]
    assert [(r["agency"], r["field"], r["records"]) for r in fields] == [
        ("TH-CA", "Person.phone", "1")
    ]


def test_an_empty_period_says_so(data_dir: Path) -> None:
    result = report(data_dir, "--from", "2027-01-01", "--to", "2027-01-31")
    assert result.exit_code == 0, result.output
    assert "There were no requests in this period." in result.output
    assert "Requests per agency" not in result.output
    as_csv = report(data_dir, "--from", "2027-01-01", "--to", "2027-01-31", "--format", "csv")
    assert as_csv.exit_code == 0
    assert as_csv.stdout.splitlines() == [",".join([
        "from", "to", "level", "agency", "dataset", "field", "requests", "allowed", "refused",
        "unauthenticated", "failed", "reads", "records", "refusals", "duty", "officer",
    ])]  # fmt: skip
    assert "no requests in this period" in as_csv.stderr


# -- the chart --------------------------------------------------------------------------------


def test_the_chart_is_a_png(data_dir: Path, tmp_path: Path) -> None:
    from matplotlib.image import imread

    chart = tmp_path / "usage.png"
    result = report(data_dir, *NOVEMBER, "--chart", str(chart))
    assert result.exit_code == 0, result.output
    data = chart.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000
    height, width, _ = imread(chart).shape
    assert width == 1200
    assert 300 <= height <= 1000


def test_an_empty_period_still_draws_a_chart_that_says_so(data_dir: Path, tmp_path: Path) -> None:
    chart = tmp_path / "empty.png"
    result = report(data_dir, "--from", "2027-01-01", "--to", "2027-01-01", "--chart", str(chart))
    assert result.exit_code == 0, result.output
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- bad arguments ----------------------------------------------------------------------------


def test_to_before_from_is_refused(data_dir: Path) -> None:
    result = report(data_dir, "--from", "2026-11-30", "--to", "2026-11-01")
    assert result.exit_code == 2
    assert "--to 2026-11-01 is before --from 2026-11-30" in result.output


def test_an_unknown_agency_names_close_matches(data_dir: Path) -> None:
    result = report(data_dir, *NOVEMBER, "--agency", "GZ-PBS")
    assert result.exit_code == 2
    assert "--agency GZ-PBS is not an agency in the sharing catalogue" in result.output
    assert "did you mean GZ-PSB" in result.output
    lower = report(data_dir, *NOVEMBER, "--agency", "th-ca")
    assert lower.exit_code == 2
    assert "did you mean TH-CA?" in lower.output


def test_an_agency_like_no_other_lists_the_agencies(data_dir: Path) -> None:
    result = report(data_dir, *NOVEMBER, "--agency", "NOBODY")
    assert result.exit_code == 2
    assert "the agencies are GZ-PSB, GZ-AMR" in result.output


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--from", "2026-11-01"], "Missing option '--to'"),
        (["--from", "2026-11-01", "--to", "30/11/2026"], "'30/11/2026' does not match"),
        ([*NOVEMBER, "--format", "xlsx"], "'xlsx' is not one of 'table', 'csv'"),
        ([*NOVEMBER, "--chart", "usage.svg"], "--chart usage.svg must name a .png file"),
        ([*NOVEMBER, "--chart", "/no/such/folder/usage.png"], "there is no folder /no/such/folder"),
    ],
)
def test_bad_arguments_exit_2_saying_what_is_wrong(
    data_dir: Path, arguments: list[str], message: str
) -> None:
    result = report(data_dir, *arguments)
    assert result.exit_code == 2
    assert message in result.output


def test_a_missing_audit_log_is_named(tmp_path: Path) -> None:
    result = report(tmp_path, *NOVEMBER)
    assert result.exit_code == 2
    assert "there is no audit log at" in result.output
