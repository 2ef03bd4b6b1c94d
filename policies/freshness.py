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

    from policies.catalog import Dataset

__all__ = ["Freshness", "freshness_of"]


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
