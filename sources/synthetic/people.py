"""Synthetic natural persons: record i is a pure function of (seed, i)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from sources.divisions import GUANGZHOU_DISTRICTS, ORIGIN_DIVISIONS
from sources.identifiers import IdNumber
from sources.synthetic._random import Permutation, WeightedChoice, recent, record_rng
from sources.synthetic.vocab import (
    EDUCATION,
    ETHNICITIES,
    GIVEN_CHARS,
    RELIGIONS,
    STREETS,
    SURNAMES,
)

if TYPE_CHECKING:
    import random

__all__ = ["PersonFactory"]

_FIRST_BIRTH = date(1940, 1, 1)
_BIRTH_DAYS = (date(2024, 12, 31) - _FIRST_BIRTH).days + 1
# Every division a resident ID number may start with: Guangzhou's districts, then elsewhere.
_ID_PREFIXES = (*GUANGZHOU_DISTRICTS, *ORIGIN_DIVISIONS)
_HOUSEHOLD = WeightedChoice([(d.code, d.weight) for d in GUANGZHOU_DISTRICTS.values()])
_SURNAME = WeightedChoice(SURNAMES)
_ETHNICITY = WeightedChoice(ETHNICITIES)
_RELIGION = WeightedChoice(RELIGIONS)
_MOBILE_PREFIXES = ("135", "136", "137", "138", "139", "150", "186", "188", "189", "199")


def full_name(rng: random.Random) -> str:
    """A plausible Chinese personal name."""
    given = "".join(rng.choice(GIVEN_CHARS) for _ in range(rng.choice((1, 2, 2, 2))))
    return _SURNAME.pick(rng) + given


def street_address(rng: random.Random, division_code: str) -> str:
    """A plausible street address in a Guangzhou district."""
    district = GUANGZHOU_DISTRICTS[division_code]
    return f"广州市{district.name}{rng.choice(STREETS)}{rng.randint(1, 999)}号"


class PersonFactory:
    """Builds person records; `id_number(i)` is cheap so other sources can refer to person i."""

    def __init__(self, *, seed: int, count: int, as_of: datetime) -> None:
        capacity = len(_ID_PREFIXES) * _BIRTH_DAYS * 1000
        self.seed = seed
        self.count = count
        self.as_of = as_of
        self._slots = Permutation(capacity, seed=seed)
        self.id_number = lru_cache(maxsize=4096)(self._id_number)

    def _id_number(self, index: int) -> str:
        # A bijection from index to (birthplace, birth date, sequence) keeps ID numbers unique.
        slot = self._slots(index)
        slot, sequence = divmod(slot, 1000)
        prefix, day = divmod(slot, _BIRTH_DAYS)
        birth = _FIRST_BIRTH + timedelta(days=day)
        return IdNumber.build(_ID_PREFIXES[prefix], birth, sequence).value

    def record(self, index: int) -> dict[str, object]:
        """Person `index` as a row of the `persons` table."""
        rng = record_rng(self.seed, "person", index)
        id_number = IdNumber(self.id_number(index))
        birth = id_number.birth_date
        age = (self.as_of.date() - birth).days // 365
        born_here = id_number.division_code in GUANGZHOU_DISTRICTS
        household = (
            id_number.division_code if born_here and rng.random() < 0.7 else _HOUSEHOLD.pick(rng)
        )
        deceased = rng.random() < max(0.0, (age - 60) / 80)
        return {
            "id_number": id_number.value,
            "name": full_name(rng),
            "gender": id_number.gender,
            "birth_date": birth,
            "ethnicity": _ETHNICITY.pick(rng),
            "division_code": household,
            "address": street_address(rng, household),
            "marital_status": _marital_status(rng, age),
            "education": _education(rng, age),
            "phone": rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}",
            "status": "deceased" if deceased else "living",
            "religion": _RELIGION.pick(rng),
            "classified_post": age >= 25 and rng.random() < 0.002,
            "updated_at": self.as_of - timedelta(seconds=recent(rng.randrange(3 * 365 * 86400))),
        }


def _marital_status(rng: random.Random, age: int) -> str:
    if age < 22:
        return "single"
    roll = rng.random()
    if age < 30:
        return "married" if roll < 0.45 else "single"
    if roll < 0.78:
        return "married"
    if roll < 0.88:
        return "divorced"
    return "widowed" if age > 55 and roll < 0.95 else "single"


def _education(rng: random.Random, age: int) -> str:
    if age < 7:
        return "学龄前"
    ceiling = min(len(EDUCATION), 1 + max(0, age - 6) // 3)
    return EDUCATION[min(ceiling - 1, int(rng.triangular(0, ceiling, ceiling * 0.7)))]
