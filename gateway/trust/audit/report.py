"""Usage reports from the audit log (Art. 30, 34): who read what, got what, was refused what.

`usage_report(contents, catalog, period)` folds audit contents (as `AuditEntry.content()` writes
them: from the store, or from an export) into a `UsageReport`: per agency, its requests by
decision; per agency and dataset, and per agency and field, its reads, records and refusals;
per agency and duty named, and per agency and officer (Art. 18, 29, 34); the agencies ranked by
refused requests; and, for one officer, each request. `gateway.cli.report` prints
and draws it.

Attribution: the log names fields (`Person.idNumber`); the catalogue groups fields in datasets,
and one field may sit in several (Person.idNumber is in person-basic and person-verification).
A field counts towards the first dataset that lists it with the query method, else the first
that lists it at all. The log records reads, which are queries, so a verify-only entry never
claims them; each read counts towards one dataset, so dataset figures add up; and the answer
does not depend on which author rules or temporary grants were in force on the day.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from gateway.trust.audit.entry import DECISIONS

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from policies.catalog import Catalog

__all__ = [
    "AgencyUsage", "Attribution", "Period", "Tally", "Usage", "UsageReport", "usage_report",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Period:
    """Whole UTC days from `first` to `last`, both included."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"The period ends ({self.last}) before it starts ({self.first}).")

    @property
    def start(self) -> str:
        """The lower bound of `at`, included (as `AuditStore.records` takes it)."""
        return f"{self.first.isoformat()}T00:00:00"

    @property
    def end(self) -> str:
        """The upper bound of `at`, excluded: midnight after the last day."""
        return f"{(self.last + timedelta(days=1)).isoformat()}T00:00:00"

    @property
    def label(self) -> str:
        """The period in words, e.g. `2026-11-01 to 2026-11-30 (UTC)`."""
        if self.first == self.last:
            return f"{self.first.isoformat()} (UTC)"
        return f"{self.first.isoformat()} to {self.last.isoformat()} (UTC)"

    def covers(self, at: str) -> bool:
        """True when the timestamp `at` (ISO 8601 UTC) falls in the period."""
        # ISO timestamps of one format order as text; `...T00:00:00.000000Z` sorts after the
        # bare bound, so midnight after the last day is outside.
        return self.start <= at < self.end


@dataclass(frozen=True, slots=True)
class Attribution:
    """Which dataset each catalogue field counts towards, and the catalogue's order."""

    #: `Type.field` -> dataset id.
    dataset_of: Mapping[str, str]
    #: Dataset id -> the entity (`Type`) its records have.
    entity_of: Mapping[str, str]
    #: Dataset ids, then `Type.field`s, in catalogue order: the order reports list them in.
    datasets: tuple[str, ...]
    fields: tuple[str, ...]

    @classmethod
    def from_catalog(cls, catalog: Catalog) -> Attribution:
        """The first dataset listing each field with `query`, else the first listing it."""
        dataset_of: dict[str, str] = {}
        for share in (s for d in catalog.datasets for s in d.fields if "query" in s.methods):
            dataset_of.setdefault(share.ref, share.dataset)
        for share in (s for d in catalog.datasets for s in d.fields):
            dataset_of.setdefault(share.ref, share.dataset)
        order = [s.ref for d in catalog.datasets for s in d.fields]
        return cls(
            dataset_of=dataset_of,
            entity_of={d.id: d.entity for d in catalog.datasets},
            datasets=tuple(d.id for d in catalog.datasets),
            fields=tuple(dict.fromkeys(order)),
        )


@dataclass(slots=True)
class Usage:
    """One agency's use of one dataset or field in the period."""

    #: Requests that read it (for a dataset: at least one of its fields).
    reads: int = 0
    #: Records of its entity returned by those requests (each `Type:key` occurrence).
    records: int = 0
    #: Requests refused it with FORBIDDEN_FIELD (for a dataset: names of its fields).
    refusals: int = 0

    def count_read(self, records: int) -> None:
        """One more request read it and got `records` records of its entity."""
        self.reads += 1
        self.records += records


@dataclass(slots=True)
class Tally:
    """Requests under one duty, or by one officer: how many, refused, records returned."""

    requests: int = 0
    refused: int = 0
    records: int = 0


@dataclass(slots=True)
class AgencyUsage:
    """One agency's requests in the period (`agency` None: requests that carried none)."""

    agency: str | None
    decisions: Counter[str] = field(default_factory=Counter)
    #: Records returned, all types.
    records: int = 0
    #: FORBIDDEN_FIELD names, including names that are not catalogue fields.
    refused_names: int = 0
    datasets: dict[str, Usage] = field(default_factory=dict)
    fields: dict[str, Usage] = field(default_factory=dict)
    #: By the duty requests named (`duty`; "" for none, i.e. all the agency's duties).
    duties: dict[str, Tally] = field(default_factory=dict)
    #: By the officer the token named (`officer`; "" for none).
    officers: dict[str, Tally] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        """Requests of every decision."""
        return sum(self.decisions[d] for d in DECISIONS)

    @property
    def refused(self) -> int:
        """Requests the gateway declined before running anything (decision `refused`)."""
        return self.decisions["refused"]

    def add(self, content: Mapping[str, Any], attribution: Attribution) -> None:
        """Count one audit record of this agency."""
        self.decisions[content["decision"]] += 1
        records = Counter(_entity(record) for record in content.get("records", ()))
        self.records += sum(records.values())
        for table, key in ((self.duties, "duty"), (self.officers, "officer")):
            tally = table.setdefault(str(content.get(key) or ""), Tally())
            tally.requests += 1
            tally.refused += content["decision"] == "refused"
            tally.records += sum(records.values())
        read = [f for f in content.get("fields", ()) if f in attribution.dataset_of]
        for ref in read:
            _usage(self.fields, ref).count_read(records[_entity(ref, ".")])
        for dataset in dict.fromkeys(attribution.dataset_of[ref] for ref in read):
            _usage(self.datasets, dataset).count_read(records[attribution.entity_of[dataset]])
        refused = content.get("refusedFields", ())
        self.refused_names += len(refused)
        for name in (n for n in refused if n in attribution.dataset_of):
            _usage(self.fields, name).refusals += 1
            _usage(self.datasets, attribution.dataset_of[name]).refusals += 1


def _entity(ref: str, separator: str = ":") -> str:
    """The type of a record `Type:key` (or, with separator ".", of a field `Type.field`)."""
    return ref.partition(separator)[0]


def _usage(table: dict[str, Usage], key: str) -> Usage:
    return table.setdefault(key, Usage())


@dataclass(slots=True)
class UsageReport:
    """Usage of the shared data in a period, per agency, dataset and field."""

    period: Period
    attribution: Attribution
    #: The one agency reported on, or None for all.
    agency: str | None = None
    #: The one officer reported on, or None for all; then `requests_of_officer` lists each.
    officer: str | None = None
    requests_of_officer: list[Mapping[str, Any]] = field(default_factory=list)
    by_agency: dict[str, AgencyUsage] = field(default_factory=dict)
    #: Requests without an agency (no valid token, or refused before identifying one).
    anonymous: AgencyUsage = field(default_factory=lambda: AgencyUsage(None))

    @property
    def requests(self) -> int:
        """Every request counted, with or without an agency."""
        return sum(u.requests for u in self.by_agency.values()) + self.anonymous.requests

    @property
    def unauthenticated(self) -> int:
        """Requests refused for want of a valid token (they name no agency)."""
        return self.anonymous.decisions["unauthenticated"]

    def agencies(self) -> list[AgencyUsage]:
        """Agencies with requests, the busiest first (ties by code)."""
        return sorted(self.by_agency.values(), key=lambda u: (-u.requests, u.agency or ""))

    def most_refused(self) -> list[AgencyUsage]:
        """Agencies with refused requests or refused names, the most refused first."""
        refused = [u for u in self.by_agency.values() if u.refused or u.refused_names]
        return sorted(refused, key=lambda u: (-u.refused, -u.refused_names, u.agency or ""))

    def names_duties(self) -> bool:
        """Whether any request counted named a duty."""
        return any(key for u in self.by_agency.values() for key in u.duties)

    def names_officers(self) -> bool:
        """Whether any request counted named an officer."""
        return any(key for u in self.by_agency.values() for key in u.officers)

    def datasets_of(self, usage: AgencyUsage) -> list[tuple[str, Usage]]:
        """An agency's datasets, in catalogue order."""
        return _in_order(usage.datasets, self.attribution.datasets)

    def fields_of(self, usage: AgencyUsage) -> list[tuple[str, Usage]]:
        """An agency's fields, in catalogue order."""
        return _in_order(usage.fields, self.attribution.fields)

    def add(self, content: Mapping[str, Any]) -> None:
        """Count one audit record if it falls in the period and, if one is set, the agency."""
        if not self.period.covers(str(content.get("at", ""))):
            return
        agency = content.get("agency")
        if self.agency is not None and agency != self.agency:
            return
        if self.officer is not None:
            if content.get("officer") != self.officer:
                return
            self.requests_of_officer.append(content)
        if agency is None:
            self.anonymous.add(content, self.attribution)
        else:
            self.by_agency.setdefault(agency, AgencyUsage(agency)).add(content, self.attribution)


def _in_order(table: dict[str, Usage], order: tuple[str, ...]) -> list[tuple[str, Usage]]:
    return [(key, table[key]) for key in order if key in table]


async def usage_report(
    contents: AsyncIterable[Mapping[str, Any]] | Iterable[Mapping[str, Any]],
    catalog: Catalog,
    period: Period,
    *,
    agency: str | None = None,
    officer: str | None = None,
) -> UsageReport:
    """Fold audit contents (async or not) into the usage report for `period` (and `agency`,
    and `officer`).

    Records outside the period, or of another agency or officer when one is given, are
    skipped, so the contents may be a whole export.
    """
    report = UsageReport(period, Attribution.from_catalog(catalog), agency, officer)
    if isinstance(contents, AsyncIterable):
        async for content in contents:
            report.add(content)
    else:
        for content in contents:
            report.add(content)
    return report
