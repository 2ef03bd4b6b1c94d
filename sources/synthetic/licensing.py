"""Synthetic licences, each sealed by its issuer (Art. 23).

Licences are generated in order (numbers are sequential per kind, district and year), holders are
chosen so that each entity has at most one business licence and each person at most one driving
licence and one marriage certificate, and every licence belongs to its holder's district.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sources.identifiers import LicenseNumber
from sources.issuers import ISSUERS, issuer_for
from sources.seal import ALGORITHM, IssuerKey, issuer_key, seal
from sources.synthetic._random import Permutation, WeightedChoice, record_rng

if TYPE_CHECKING:
    import random

    from sources.synthetic.organisations import EntityFactory
    from sources.synthetic.people import PersonFactory

__all__ = ["LicenseFactory"]

_KIND = WeightedChoice([("BL", 30), ("FB", 10), ("CP", 5), ("DL", 40), ("MC", 15)])
_KIND_NAMES = {
    "BL": "营业执照",
    "FB": "食品经营许可证",
    "CP": "建筑工程施工许可证",
    "DL": "机动车驾驶证",
    "MC": "结婚证",
}
# Years of validity; None is open-ended.
_VALIDITY = {"BL": None, "FB": 5, "CP": None, "DL": 6, "MC": None}
_TRIES = 12


class LicenseFactory:
    """Yields licence rows in order; holds only small counters, never the records."""

    def __init__(
        self,
        *,
        seed: int,
        count: int,
        persons: PersonFactory,
        entities: EntityFactory,
        as_of: datetime,
    ) -> None:
        self.seed = seed
        self.count = count
        self.persons = persons
        self.entities = entities
        self.as_of = as_of
        self.keys: dict[str, IssuerKey] = {code: issuer_key(code, seed=seed) for code in ISSUERS}
        self._ordinals = {"BL": 0, "DL": 0, "MC": 0}
        self._business = Permutation(max(entities.count, 1), seed=seed + 4)
        self._drivers = Permutation(persons.count, seed=seed + 5)
        self._spouses = Permutation(persons.count, seed=seed + 6)
        self._sequences: dict[tuple[str, str, int], int] = {}

    def record(self, index: int) -> dict[str, object]:
        """The next licence; call with index 0, 1, 2, ... in order."""
        rng = record_rng(self.seed, "license", index)
        kind = _KIND.pick(rng) if self.entities.count else "DL"
        holder = self._holder(kind, rng)
        if holder is None:
            kind, holder = "DL", self._person_holder("DL", rng, adult_only=True)
        if holder is None:  # only in tiny data sets where every candidate is a child
            kind, holder = "DL", self._any_person(rng)
        holder_kind, holder_id, division, earliest = holder
        span = max((self.as_of.date() - earliest).days, 1)
        issued = earliest + timedelta(days=rng.randrange(span))
        years = _VALIDITY[kind]
        valid_until = None if years is None else _add_years(issued, years)
        status = "valid"
        if valid_until is not None and valid_until < self.as_of.date():
            status = "expired"
        elif rng.random() < 0.02:
            status = "revoked"
        number = self._number(kind, division, issued.year)
        issuer = self.keys[issuer_for(kind, division)]
        row: dict[str, object] = {
            "license_number": number,
            "kind": _KIND_NAMES[kind],
            "holder_kind": holder_kind,
            "holder_id": holder_id,
            "issuer_code": issuer.issuer_code,
            "issued_on": issued,
            "valid_until": valid_until,
            "status": status,
            "division_code": division,
            "seal_algorithm": ALGORITHM,
            "seal_key_id": issuer.key_id,
        }
        row["seal_signature"] = seal(row, issuer)
        row["updated_at"] = self.as_of - timedelta(seconds=rng.randrange(86400))
        return row

    def _number(self, kind: str, division: str, year: int) -> str:
        key = (kind, division, year)
        sequence = self._sequences.get(key, 0) + 1
        self._sequences[key] = sequence
        return LicenseNumber.build(kind, division, year, sequence).value

    def _holder(self, kind: str, rng: random.Random) -> tuple[str, str, str, date] | None:
        if kind in ("DL", "MC"):
            return self._person_holder(kind, rng, adult_only=True)
        if kind == "BL":
            # Business licences go to market entities, one each, in permuted order.
            while self._ordinals["BL"] < self.entities.count:
                ordinal = self._ordinals["BL"]
                self._ordinals["BL"] += 1
                identity = self.entities.identity(self._business(ordinal))
                if identity.market:
                    return ("entity", identity.credit_code, identity.division_code, _EARLIEST)
            return None
        for _ in range(_TRIES):
            identity = self.entities.identity(rng.randrange(self.entities.count))
            if identity.market:
                return ("entity", identity.credit_code, identity.division_code, _EARLIEST)
        return None

    def _person_holder(
        self, kind: str, rng: random.Random, *, adult_only: bool
    ) -> tuple[str, str, str, date] | None:
        permutation = self._spouses if kind == "MC" else self._drivers
        for _ in range(_TRIES):
            ordinal = self._ordinals[kind]
            if ordinal >= self.persons.count:
                return None
            self._ordinals[kind] += 1
            person = self.persons.record(permutation(ordinal))
            birth = person["birth_date"]
            if not isinstance(birth, date):
                raise TypeError("person records carry birth_date as a date")
            adult = _add_years(birth, 20)
            if adult_only and adult > self.as_of.date():
                continue
            if kind == "MC" and person["marital_status"] != "married":
                continue
            return ("person", str(person["id_number"]), str(person["division_code"]), adult)
        del rng  # holders are chosen by ordinal, not by this licence's stream
        return None

    def _any_person(self, rng: random.Random) -> tuple[str, str, str, date]:
        person = self.persons.record(rng.randrange(self.persons.count))
        return ("person", str(person["id_number"]), str(person["division_code"]), _EARLIEST)


_EARLIEST = date(2005, 1, 1)


def _add_years(day: date, years: int) -> date:
    # 29 February has no twin in most years: the licence runs to 28 February.
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)
