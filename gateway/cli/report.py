"""`govgate audit report`: usage of the shared data per agency, dataset and field (Art. 30, 34).

govgate audit report --from D --to D [--agency CODE] [--officer ID] [--format table|csv]
                     [--chart FILE.png] (--data DIR | --config FILE)

The numbers come from `gateway.trust.audit.report`; this module reads the log, checks the arguments
and renders the report as an aligned table, a tidy CSV table, or a PNG chart.
"""

from __future__ import annotations

import asyncio
import csv
import difflib
import io
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import click
from sqlalchemy.exc import SQLAlchemyError

from gateway.cli._options import deployment_options, fail
from gateway.cli.audit import audit_group, audit_store, day_range
from gateway.identity import OFFICER_ID
from gateway.trust.audit.entry import DECISIONS
from gateway.trust.audit.report import Period, usage_report
from gateway.trust.audit.report_accountability import (
    csv_rows,
    per_duty,
    per_officer,
    requests_of_officer,
)
from policies.catalog import load_catalog
from policies.errors import PolicyError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from gateway.settings import Settings
    from gateway.trust.audit.report import AgencyUsage, UsageReport
    from gateway.trust.audit.store import AuditStore
    from policies.catalog import Catalog

__all__ = ["CSV_COLUMNS", "draw_chart", "render_csv", "render_table", "report_command"]

#: The columns of `--format csv`, one row per agency, agency x dataset, agency x field, agency
#: x duty named and agency x officer.
CSV_COLUMNS = (
    "from", "to", "level", "agency", "dataset", "field", "requests", *DECISIONS,
    "reads", "records", "refusals", "duty", "officer",
)  # fmt: skip
_NO_AGENCY = "(no agency)"
_EMPTY = "no requests in this period"
#: What the numbers mean, printed under the table's heading (docs/trust.md says more).
_KEY = (
    "reads: requests that read the field (for a dataset, any of its fields); records: records of",
    "its type they returned; refusals, fields refused: names refused with FORBIDDEN_FIELD.",
)


@audit_group.command("report")
@deployment_options
@click.option("--from", "first", type=click.DateTime(["%Y-%m-%d"]), required=True,
              help="First day (UTC) of the period, e.g. 2026-01-01.")  # fmt: skip
@click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"]), required=True,
              help="Last day (UTC) of the period, inclusive, e.g. 2026-12-31.")  # fmt: skip
@click.option("--agency", default=None, help="Report on this agency only (catalogue code).")
@click.option("--officer", default=None, metavar="ID",
              help="Report on this officer only (the act claim of their tokens), and list "
              "each of their requests (Art. 29, 34).")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["table", "csv"]), default="table",
              show_default=True, help="An aligned table to read, or one CSV table.")  # fmt: skip
@click.option("--chart", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also draw the report as a PNG chart into this file.")  # fmt: skip
def report_command(
    *,
    settings: Settings,
    first: datetime,
    last: datetime,
    agency: str | None,
    officer: str | None,
    fmt: str,
    chart: Path | None,
) -> None:
    """Usage per agency, dataset and field for whole UTC days, from the audit log."""
    day_range(first.date(), last.date())  # exit 2 when --to is before --from
    if chart is not None and chart.suffix.lower() != ".png":
        fail(f"--chart {chart} must name a .png file, e.g. usage.png.")
    if chart is not None and not chart.parent.is_dir():
        fail(f"--chart {chart}: there is no folder {chart.parent}; create it or pick another.")
    try:
        catalog = load_catalog(settings.catalog)
    except PolicyError as error:
        fail(str(error))
    if agency is not None:
        _check_agency(agency, catalog)
    if officer is not None and not OFFICER_ID.fullmatch(officer):
        fail(f"--officer {officer!r} is not an officer id: 1 to 64 letters, digits or "
             ". _ : @ / + = -, as tokens name them.")  # fmt: skip
    period = Period(first.date(), last.date())
    try:
        report = asyncio.run(_collect(audit_store(settings), catalog, period, agency, officer))
    except SQLAlchemyError as error:
        fail(f"cannot read the audit store at {settings.audit_url}: {error.__class__.__name__}; "
             "check the URL and that the database is up.")  # fmt: skip
    if fmt == "csv":
        click.echo(render_csv(report), nl=False)
        if not report.requests:
            click.echo(f"{_EMPTY}: {period.label}", err=True)
    else:
        click.echo(render_table(report, catalog), nl=False)
    if chart is not None:
        try:
            draw_chart(report, chart)
        except OSError as error:
            fail(f"cannot write the chart to {chart} ({error.strerror}); pick another path.")
        click.echo(f"chart written to {chart}", err=True)


def _check_agency(code: str, catalog: Catalog) -> None:
    """Exit 2 naming close matches when `code` is not a catalogue agency."""
    codes = [a.code for a in catalog.agencies]
    if code in codes:
        return
    close = [c for c in codes if c.lower() == code.lower()]
    close = close or difflib.get_close_matches(code.upper(), codes, n=3, cutoff=0.6)
    hint = (f"did you mean {' or '.join(close)}?" if close
            else f"the agencies are {', '.join(codes)}.")  # fmt: skip
    fail(f"--agency {code} is not an agency in the sharing catalogue ({catalog.path}); {hint}")


async def _collect(
    store: AuditStore, catalog: Catalog, period: Period, agency: str | None, officer: str | None
) -> UsageReport:
    try:
        contents = (r.content async for r in store.records(start=period.start, end=period.end))
        return await usage_report(contents, catalog, period, agency=agency, officer=officer)
    finally:
        await store.close()


# -- table ------------------------------------------------------------------------------------


def render_table(report: UsageReport, catalog: Catalog) -> str:
    """The report as aligned text: summary, per dataset, per field, most refused agencies."""
    who = f"agency {report.agency}" if report.agency else "all agencies"
    if report.officer is not None:
        who = f"officer {report.officer} of {who}"
    lines = [f"Usage report for {who}, {report.period.label}",
             f"Catalogue {catalog.version} ({catalog.path})", *_KEY, ""]  # fmt: skip
    if not report.requests:
        lines.append(f"There were {_EMPTY}.")
    else:
        names = {a.code: a.name for a in catalog.agencies}
        lines += _section("Requests per agency", _summary(report, names))
        lines += _section("Per dataset", _per_dataset(report))
        lines += _section("Per field", _per_field(report))
        if report.names_duties():
            lines += _section("Per duty named (Govgate-Duty)", per_duty(report))
        if report.names_officers() and report.officer is None:
            lines += _section("Per officer (the token's act claim)", per_officer(report))
        if report.officer is not None:
            title = f"Requests of officer {report.officer}, one by one"
            lines += _section(title, requests_of_officer(report))
        lines += _section("Most refused agencies", _most_refused(report))
        if report.agency is None:
            lines.append("Unauthenticated requests (no valid token, so no agency): "
                         f"{report.unauthenticated:,}")  # fmt: skip
    return "\n".join(lines).rstrip() + "\n"


Cell = str | int
Table = tuple[tuple[str, ...], list[tuple[Cell, ...]]]


def _section(title: str, table: Table) -> list[str]:
    return [title, *(f"  {line}" for line in _aligned(*table)), ""]


def _aligned(headers: tuple[str, ...], rows: list[tuple[Cell, ...]]) -> list[str]:
    """Columns padded to their widest cell, numbers right-aligned. A last column of text is
    left unpadded: agency names are Chinese, whose characters take two terminal cells."""
    if not rows:
        return ["(none)"]
    cells = [[f"{c:,}" if isinstance(c, int) else c for c in row] for row in rows]
    columns = range(len(headers))
    numeric = [all(isinstance(row[i], int) or row[i] == "" for row in rows) for i in columns]
    widths = [max(len(headers[i]), *(len(row[i]) for row in cells)) for i in columns]
    if not numeric[-1]:
        widths[-1] = len(headers[-1])

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(row) for row in cells)]


def _summary(report: UsageReport, names: dict[str, str]) -> Table:
    headers = ("agency", "requests", *DECISIONS, "records", "fields refused", "name")
    rows: list[tuple[Cell, ...]] = [
        _summary_row(u.agency or _NO_AGENCY, u, names.get(u.agency or "", ""))
        for u in report.agencies()
    ]
    if report.anonymous.requests:
        rows.append(_summary_row(_NO_AGENCY, report.anonymous, "(not identified)"))
    total = [*report.agencies(), report.anonymous]
    rows.append((
        "total", sum(u.requests for u in total),
        *(sum(u.decisions[d] for u in total) for d in DECISIONS),
        sum(u.records for u in total), sum(u.refused_names for u in total), "",
    ))  # fmt: skip
    return headers, rows


def _summary_row(label: str, usage: AgencyUsage, name: str) -> tuple[Cell, ...]:
    decisions = (usage.decisions[d] for d in DECISIONS)
    return (label, usage.requests, *decisions, usage.records, usage.refused_names, name)


def _per_dataset(report: UsageReport) -> Table:
    rows: list[tuple[Cell, ...]] = []
    for usage in report.agencies():
        for i, (dataset, counts) in enumerate(report.datasets_of(usage)):
            rows.append(((usage.agency or "") if i == 0 else "", dataset,
                         counts.reads, counts.records, counts.refusals))  # fmt: skip
    return ("agency", "dataset", "reads", "records", "refusals"), rows


def _per_field(report: UsageReport) -> Table:
    rows: list[tuple[Cell, ...]] = []
    for usage in report.agencies():
        for i, (ref, counts) in enumerate(report.fields_of(usage)):
            dataset = report.attribution.dataset_of[ref]
            rows.append(((usage.agency or "") if i == 0 else "", ref, dataset,
                         counts.reads, counts.records, counts.refusals))  # fmt: skip
    return ("agency", "field", "dataset", "reads", "records", "refusals"), rows


def _most_refused(report: UsageReport) -> Table:
    rows: list[tuple[Cell, ...]] = [
        (rank, u.agency or "", u.refused, u.refused_names)
        for rank, u in enumerate(report.most_refused(), 1)
    ]
    return ("rank", "agency", "refused requests", "fields refused"), rows


# -- CSV --------------------------------------------------------------------------------------


def render_csv(report: UsageReport) -> str:
    """The report as one tidy table with CSV_COLUMNS (see docs/trust.md, Usage reports)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    period = {"from": report.period.first.isoformat(), "to": report.period.last.isoformat()}
    agencies = report.agencies()
    if report.anonymous.requests:
        agencies.append(report.anonymous)
    for usage in agencies:
        agency = usage.agency or ""
        writer.writerow({
            **period, "level": "agency", "agency": agency, "requests": usage.requests,
            **{d: usage.decisions[d] for d in DECISIONS},
            "records": usage.records, "refusals": usage.refused_names,
        })  # fmt: skip
        for dataset, counts in report.datasets_of(usage):
            writer.writerow({**period, "level": "dataset", "agency": agency, "dataset": dataset,
                             "reads": counts.reads, "records": counts.records,
                             "refusals": counts.refusals})  # fmt: skip
        for ref, counts in report.fields_of(usage):
            writer.writerow({**period, "level": "field", "agency": agency,
                             "dataset": report.attribution.dataset_of[ref], "field": ref,
                             "reads": counts.reads, "records": counts.records,
                             "refusals": counts.refusals})  # fmt: skip
    writer.writerows(csv_rows(report, period))
    return out.getvalue()


# -- chart ------------------------------------------------------------------------------------


#: Colours for datasets in catalogue order (colour-blind safe, Okabe-Ito, then grey tones).
_PALETTE = ("#0072B2", "#E69F00", "#009E73", "#56B4E9", "#CC79A7", "#F0E442", "#D55E00",
            "#000000", "#999999", "#666666", "#BBBBBB", "#333333")  # fmt: skip
_REFUSED, _REFUSED_NAMES = "#C0392B", "#F1A9A0"


def draw_chart(report: UsageReport, path: Path) -> None:
    """A PNG a supervisor can take in at a glance: reads per agency, stacked by dataset, beside
    refused requests and refused fields per agency."""
    # Figure without pyplot: no global state, no GUI backend; savefig renders with Agg.
    from matplotlib.figure import Figure  # noqa: PLC0415 (only --chart needs matplotlib)
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415

    # Longest bar on top: the chart is about reads (refusals break ties).
    agencies = sorted(report.agencies(), key=lambda u: (-_reads(u), -u.refused, u.agency or ""))
    who = f"agency {report.agency}" if report.agency else "all agencies"
    title = f"Use of shared data by {who}, {report.period.label}"
    height = 2.2 + 0.42 * max(len(agencies), 3)
    figure = Figure(figsize=(12, height), dpi=100, layout="constrained")
    if not agencies:
        figure.suptitle(title, fontsize=13, fontweight="bold")
        axes = figure.add_subplot()
        axes.axis("off")
        message = f"There were {_EMPTY}."
        if report.unauthenticated:
            message += f"\n{report.unauthenticated:,} unauthenticated requests (no agency)."
        axes.text(0.5, 0.5, message, ha="center", va="center", fontsize=13)
        figure.savefig(path, format="png")
        return
    reads_axes, refused_axes = figure.subplots(
        1, 2, sharey=True, gridspec_kw={"width_ratios": [3, 1.4]}
    )
    figure.suptitle(title, fontsize=13, fontweight="bold")
    codes = [u.agency or _NO_AGENCY for u in agencies]
    rows = range(len(agencies))
    _stacked_reads(reads_axes, report, agencies, rows)
    _refusals(refused_axes, report, agencies, rows)
    reads_axes.set_yticks(list(rows), codes, fontsize=10)
    # The first agency on top; at least three rows' height, so one agency gets no fat bar.
    pad = max(3 - len(agencies), 0) / 2
    reads_axes.set_ylim(len(agencies) - 0.5 + pad, -0.5 - pad)
    reads_axes.set_ylabel("agency")
    # Legends under the panels they explain, outside them, so no bar ever hides behind one.
    _legend_below(figure, reads_axes, "outside lower left", "reads by dataset")
    _legend_below(figure, refused_axes, "outside lower right", None)
    for axes in (reads_axes, refused_axes):
        axes.xaxis.set_major_locator(MaxNLocator(nbins="auto" if axes is reads_axes else 5,
                                                 integer=True))  # fmt: skip
        axes.grid(axis="x", color="#DDDDDD", linewidth=0.8)
        axes.set_axisbelow(True)
        axes.spines[["top", "right"]].set_visible(False)
    figure.savefig(path, format="png")


def _legend_below(
    figure: Figure,
    axes: Axes,
    loc: Literal["outside lower left", "outside lower right"],
    title: str | None,
) -> None:
    handles, labels = axes.get_legend_handles_labels()
    if handles:
        figure.legend(handles, labels, loc=loc, ncol=min(len(handles), 4), fontsize=9,
                      title=title, title_fontsize=9, frameon=False)  # fmt: skip


def _reads(usage: AgencyUsage) -> int:
    return sum(u.reads for u in usage.datasets.values())


def _stacked_reads(axes: Axes, report: UsageReport, agencies: list[AgencyUsage],
                   rows: range) -> None:  # fmt: skip
    """Reads per agency, one stacked segment per dataset, the total at the end of each bar."""
    left = [0] * len(agencies)
    used = [d for d in report.attribution.datasets if any(d in u.datasets for u in agencies)]
    for dataset in used:
        colour = _PALETTE[report.attribution.datasets.index(dataset) % len(_PALETTE)]
        reads = [u.datasets[dataset].reads if dataset in u.datasets else 0 for u in agencies]
        axes.barh(list(rows), reads, left=left, height=0.62, label=dataset, color=colour)
        left = [a + b for a, b in zip(left, reads, strict=True)]
    for row, total in zip(rows, left, strict=True):
        axes.annotate(f"{total:,}", (total, row), xytext=(4, 0), textcoords="offset points",
                      va="center", fontsize=9)  # fmt: skip
    axes.set_title("Reads per dataset (requests that read it)", fontsize=11, loc="left")
    axes.set_xlabel("reads (a request that reads two datasets counts in each)")
    axes.set_xlim(0, max(*left, 1) * 1.12)
    if not used:
        axes.text(0.5, 0.5, "no catalogue field read", transform=axes.transAxes,
                  ha="center", va="center", color="#666666")  # fmt: skip


def _refusals(axes: Axes, report: UsageReport, agencies: list[AgencyUsage], rows: range) -> None:
    """Refused requests and refused field names per agency, side by side."""
    refused = [u.refused for u in agencies]
    names = [u.refused_names for u in agencies]
    upper = [r - 0.18 for r in rows]
    lower = [r + 0.18 for r in rows]
    axes.barh(upper, refused, height=0.34, color=_REFUSED, label="refused requests")
    axes.barh(lower, names, height=0.34, color=_REFUSED_NAMES, label="fields refused")
    for positions, values in ((upper, refused), (lower, names)):
        for y, value in zip(positions, values, strict=True):
            if value:
                axes.annotate(f"{value:,}", (value, y), xytext=(3, 0),
                              textcoords="offset points", va="center", fontsize=8)  # fmt: skip
    title = "Refusals"
    if report.agency is None:
        title += f" (unauthenticated, no agency: {report.unauthenticated:,})"
    axes.set_title(title, fontsize=11, loc="left")
    axes.set_xlabel("count")
    axes.set_xlim(0, max(*refused, *names, 1) * 1.2)
