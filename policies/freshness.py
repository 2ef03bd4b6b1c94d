"""Whether a dataset is as fresh as the catalogue says it must be (Art. 17).

A dataset's age is the time since its source's newest record changed; its frequency allows a
day ("real time"), N days ("within N days") or a quarter and ten days ("quarterly"), as
`Frequency.max_age` says.

The newest time is the content of a record's `updatedAt`, so an agency that may not read that
field sees it only to the day, and everything said about it (the time shown, the age, whether
the dataset is stale) is worked out from that day alone: `freshness_of(..., grants=...)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from policies.catalog import Catalog, Dataset
    from policies.grants import Grants

__all__ = ["Freshness", "datasets_seen_by", "freshness_of", "to_the_second"]

_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Freshness:
    """One dataset's freshness at a moment, as one agency may know it.

    `exact` is False for an agency that may not read the records' `updatedAt`: then
    `last_updated` is midnight (UTC) of the day the newest record changed, and the age is
    counted from the end of that day, so nothing here depends on the hour.
    """

    dataset: Dataset
    last_updated: datetime | None
    age_seconds: float | None
    exact: bool = True

    @property
    def fresh(self) -> bool:
        """Within the catalogue's frequency (a dataset with no records is not fresh)."""
        if self.age_seconds is None:
            return False
        return self.age_seconds <= self.dataset.frequency.max_age.total_seconds()

    @property
    def shown(self) -> str | None:
        """`lastUpdated` as the agency sees it: `YYYY-MM-DDTHH:MM:SSZ` (UTC), or only
        `YYYY-MM-DD` when it may not read `updatedAt`; None when there is no record."""
        if self.last_updated is None:
            return None
        if not self.exact:
            return self.last_updated.date().isoformat()
        return self.last_updated.strftime("%Y-%m-%dT%H:%M:%SZ")


def to_the_second(grants: Grants, dataset: Dataset) -> bool:
    """May the agency know when `dataset`'s newest record changed to the second? Only if it may
    read the records' `updatedAt`: the time is that field's content."""
    return f"{dataset.entity}.updatedAt" in grants.readable


def freshness_of(
    datasets: Iterable[Dataset],
    newest: Mapping[str, datetime | None],
    now: datetime,
    *,
    grants: Grants | None = None,
) -> list[Freshness]:
    """Each dataset's freshness at `now`, given each source's newest `updated_at` (UTC).

    With `grants`, as that agency may know it: to the day for a dataset whose `updatedAt` it
    may not read (see `Freshness`). Without, exact (the platform's own view).
    """
    out = []
    for dataset in datasets:
        last = newest.get(dataset.source)
        exact = grants is None or to_the_second(grants, dataset)
        if last is None:
            out.append(Freshness(dataset, None, None, exact))
        elif exact:
            out.append(Freshness(dataset, last, max(0.0, (now - last).total_seconds())))
        else:
            # The day only. Counting the age from the day's end (the latest the change could
            # have been) means a dataset is never called stale before it is, and the moment it
            # turns stale is a midnight, which tells the agency no hour.
            day = datetime.combine(last.astimezone(UTC).date(), datetime.min.time(), UTC)
            age = max(0.0, (now - (day + _DAY)).total_seconds())
            out.append(Freshness(dataset, day, age, exact=False))
    return out


def datasets_seen_by(catalog: Catalog, grants: Grants) -> list[Dataset]:
    """The datasets whose own catalogue entries share something with the agency: a field it
    may read or verify, shared by this dataset unconditionally or to one of its duties."""
    granted = grants.readable | grants.verifiable
    duties = set(grants.agency.duties)
    # Art. 2, 4: unconditional sharing reaches only the kinds of agency the catalogue names.
    everyone = grants.agency.kind in catalog.unconditional_kinds
    return [
        dataset
        for dataset in catalog.datasets
        if any(
            share.ref in granted
            and ((share.sharing == "unconditional" and everyone) or duties & set(share.duties))
            for share in dataset.fields
        )
    ]
