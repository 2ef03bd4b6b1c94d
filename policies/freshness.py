"""Whether a dataset is as fresh as the catalogue says it must be (Art. 17).

A dataset's age is the time since its source's newest record changed; its frequency allows a
day ("real time"), N days ("within N days") or a quarter and ten days ("quarterly"), as
`Frequency.max_age` says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from datetime import datetime

    from policies.catalog import Catalog, Dataset
    from policies.grants import Grants

__all__ = ["Freshness", "datasets_seen_by", "freshness_of"]


@dataclass(frozen=True, slots=True)
class Freshness:
    """One dataset's freshness at a moment."""

    dataset: Dataset
    last_updated: datetime | None
    age_seconds: float | None

    @property
    def fresh(self) -> bool:
        """Within the catalogue's frequency (a dataset with no records is not fresh)."""
        if self.age_seconds is None:
            return False
        return self.age_seconds <= self.dataset.frequency.max_age.total_seconds()


def freshness_of(
    datasets: Iterable[Dataset], newest: Mapping[str, datetime | None], now: datetime
) -> list[Freshness]:
    """Each dataset's freshness at `now`, given each source's newest `updated_at`."""
    out = []
    for dataset in datasets:
        last = newest.get(dataset.source)
        age = None if last is None else max(0.0, (now - last).total_seconds())
        out.append(Freshness(dataset, last, age))
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
