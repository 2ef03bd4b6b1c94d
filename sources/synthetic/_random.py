"""Deterministic randomness: one stream per (seed, kind of record, record index).

Each record is a pure function of its index, so a reference to record i can be recomputed
instead of remembered; memory stays flat however many records are generated.
"""

from __future__ import annotations

import random
from bisect import bisect
from itertools import accumulate
from math import gcd
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["Permutation", "WeightedChoice", "recent", "record_rng"]

T = TypeVar("T")

_STREAMS = {"person": 1, "entity": 2, "parcel": 3, "license": 4}


def record_rng(seed: int, stream: str, index: int) -> random.Random:
    """The random stream of record `index` of kind `stream` under `seed`."""
    return random.Random(((seed * 8 + _STREAMS[stream]) << 32) | index)


class WeightedChoice(Generic[T]):
    """Picks from fixed weighted options with one uniform draw (bisect on cumulative weights)."""

    __slots__ = ("_cumulative", "_options", "_total")

    def __init__(self, options: Sequence[tuple[T, int]]) -> None:
        self._options = [option for option, _ in options]
        self._cumulative = list(accumulate(weight for _, weight in options))
        self._total = self._cumulative[-1]

    def pick(self, rng: random.Random) -> T:
        """One option, with probability proportional to its weight."""
        return self._options[bisect(self._cumulative, rng.random() * self._total)]


class Permutation:
    """A bijection of range(size) that looks random: i -> (i * a + c) mod size."""

    __slots__ = ("_a", "_c", "size")

    def __init__(self, size: int, *, seed: int) -> None:
        rng = random.Random(seed)
        self.size = size
        a = rng.randrange(size // 3, size) | 1 if size > 3 else 1
        while gcd(a, size) != 1:
            a += 2
        self._a = a
        self._c = rng.randrange(size)

    def __call__(self, index: int) -> int:
        return (index * self._a + self._c) % self.size


def recent(age_seconds: int) -> int:
    """One record in fifty changed within the last day; the rest keep their drawn age.

    Real base data is edited every day, so a dataset's newest record is hours old (Art. 17
    freshness); the fold reuses the drawn number, so no other value of the record moves.
    """
    return age_seconds % 86_400 if age_seconds % 50 == 0 else age_seconds
