"""Progress bars on stderr (shown on a terminal only) for the long steps of a backup."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NoReturn

from tqdm import tqdm

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["page_progress", "progress_bar"]


def progress_bar(desc: str, total: int | None, unit: str) -> tqdm[NoReturn]:
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        unit_scale=unit == "B",
        file=sys.stderr,
        disable=None,
        mininterval=0.5,
        leave=False,
    )


def page_progress(bar: tqdm[NoReturn]) -> Callable[[int, int, int], None]:
    """The `progress` callback of SQLite's online backup: moves `bar` once per step."""

    def report(_status: int, remaining: int, total: int) -> None:
        bar.total = total
        bar.update(total - remaining - bar.n)

    return report
