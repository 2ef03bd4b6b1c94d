"""The accountability parts of a usage report: per duty, per officer, one officer's requests.

Art. 18, 21 and 34(4) bind use to duties and Art. 29 and 34 to the staff who use the data, so
`govgate audit report` breaks usage down by the duty each request named (`Govgate-Duty`) and
the officer its token named (`act`), and with `--officer ID` lists that officer's requests one
by one. `gateway.cli.report` prints these tables beside the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from gateway.trust.audit.report import Tally, UsageReport

__all__ = ["csv_rows", "per_duty", "per_officer", "requests_of_officer"]

Cell = str | int
Table = tuple[tuple[str, ...], list[tuple[Cell, ...]]]

#: How a request that named no duty (all the agency's duties) or no officer is listed.
NO_DUTY = "(none named)"
NO_OFFICER = "(none named)"


def _rows(report: UsageReport, which: str, none: str) -> list[tuple[Cell, ...]]:
    rows: list[tuple[Cell, ...]] = []
    for usage in report.agencies():
        table: dict[str, Tally] = getattr(usage, which)
        for i, key in enumerate(sorted(table, key=lambda k: (k == "", k))):
            tally = table[key]
            rows.append(((usage.agency or "") if i == 0 else "", key or none,
                         tally.requests, tally.refused, tally.records))  # fmt: skip
    return rows


def per_duty(report: UsageReport) -> Table:
    """Requests per agency and the duty they named (Art. 18, 21)."""
    return ("agency", "duty", "requests", "refused", "records"), _rows(report, "duties", NO_DUTY)


def per_officer(report: UsageReport) -> Table:
    """Requests per agency and the officer their token named (Art. 29, 34)."""
    headers = ("agency", "officer", "requests", "refused", "records")
    return headers, _rows(report, "officers", NO_OFFICER)


def requests_of_officer(report: UsageReport) -> Table:
    """Each request of the officer reported on: when, which agency and duty, what was read."""
    rows: list[tuple[Cell, ...]] = [
        (str(c.get("at", "")), str(c.get("agency") or ""), str(c.get("duty") or NO_DUTY),
         str(c.get("decision", "")), " ".join(_data_fields(c)) or "-",
         " ".join(c.get("records", ())) or "-")
        for c in report.requests_of_officer
    ]  # fmt: skip
    return ("at", "agency", "duty", "decision", "fields read", "records returned"), rows


def _data_fields(content: Mapping[str, Any]) -> list[str]:
    """The catalogue fields read (`Type.field` of a record type, not `Query.*` or `Me.*`)."""
    return [f for f in content.get("fields", ()) if not f.startswith(("Query.", "Me."))]


def csv_rows(report: UsageReport, period: dict[str, str]) -> Iterator[dict[str, Cell]]:
    """The `duty` and `officer` rows of `--format csv` (docs/trust.md, CSV columns)."""
    for usage in report.agencies():
        for level, table in (("duty", usage.duties), ("officer", usage.officers)):
            for key, tally in sorted(table.items()):
                if key:  # requests naming none are the agency row less the named ones
                    yield {**period, "level": level, "agency": usage.agency or "", level: key,
                           "requests": tally.requests, "refused": tally.refused,
                           "records": tally.records}  # fmt: skip
