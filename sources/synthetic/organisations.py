"""Synthetic legal entities: record j is a pure function of (seed, j)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from sources.divisions import GUANGZHOU_DISTRICTS
from sources.identifiers import CreditCode, RegistrationNumber
from sources.synthetic._random import Permutation, WeightedChoice, record_rng
from sources.synthetic.people import PersonFactory, street_address
from sources.synthetic.vocab import INDUSTRIES, TRADE_WORDS

if TYPE_CHECKING:
    import random

__all__ = ["EntityFactory", "EntityIdentity"]

_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_CODE_REFORM = date(2015, 10, 1)


class _Kind(NamedTuple):
    name: str
    authority: str  # GB 32100 registration authority code
    category: str  # GB 32100 category code
    market: bool  # a market entity, registered by the market regulator


_KINDS = WeightedChoice(
    [
        (_Kind("有限责任公司", "9", "1", market=True), 60),
        (_Kind("个体工商户", "9", "2", market=True), 25),
        (_Kind("农民专业合作社", "9", "3", market=True), 3),
        (_Kind("事业单位", "1", "2", market=False), 6),
        (_Kind("社会团体", "5", "1", market=False), 4),
        (_Kind("民办非企业单位", "5", "2", market=False), 2),
    ]
)
_DIVISION = WeightedChoice([(d.code, d.weight) for d in GUANGZHOU_DISTRICTS.values()])
_STATUS = WeightedChoice([("active", 85), ("revoked", 5), ("deregistered", 10)])


class EntityIdentity(NamedTuple):
    """What other sources need to know about entity j."""

    credit_code: str
    division_code: str
    kind: str
    market: bool


class EntityFactory:
    """Builds legal-entity records; `identity(j)` is cheap and cached for cross-references."""

    def __init__(self, *, seed: int, count: int, persons: PersonFactory, as_of: datetime) -> None:
        self.seed = seed
        self.count = count
        self.persons = persons
        self.as_of = as_of
        self._organisation = Permutation(len(_ALPHABET) ** 6, seed=seed + 1)
        self._registration = Permutation(10**8, seed=seed + 2)
        self.identity = lru_cache(maxsize=4096)(self._identity)

    def _identity(self, index: int) -> EntityIdentity:
        rng = record_rng(self.seed, "entity", index)
        kind = _KINDS.pick(rng)
        division = _DIVISION.pick(rng)
        number = self._organisation(index)
        body = ""
        for _ in range(6):
            number, digit = divmod(number, len(_ALPHABET))
            body = _ALPHABET[digit] + body
        credit = CreditCode.build(kind.authority, kind.category, division, "MA" + body)
        return EntityIdentity(credit.value, division, kind.name, kind.market)

    def record(self, index: int) -> dict[str, object]:
        """Entity `index` as a row of the `legal_entities` table."""
        identity = self.identity(index)
        rng = record_rng(self.seed, "entity", index)
        rng.random(), rng.random()  # the two draws `identity` used
        established = date(1990, 1, 1) + timedelta(days=rng.randrange(12_700))
        individual = identity.kind == "个体工商户"
        # Art. 16: organisations are keyed by organisation code; market entities registered
        # without one (individual businesses, and others from before the 2015 reform) by their
        # 15-digit business registration number.
        registration = None
        if identity.market and (individual or established < _CREDIT_CODE_REFORM):
            body = f"{identity.division_code}{self._registration(index):08d}"
            registration = body + RegistrationNumber.check_digit(body)
        organisation = None if individual else identity.credit_code[8:17]
        trade, scope = INDUSTRIES[rng.randrange(len(INDUSTRIES))]
        district = GUANGZHOU_DISTRICTS[identity.division_code]
        brand = rng.choice(TRADE_WORDS) + rng.choice(TRADE_WORDS)
        if individual:
            name = f"广州市{district.name}{brand}{trade}店"
        elif identity.market:
            name = f"广州{brand}{trade}有限公司"
        else:
            name = f"广州市{district.name}{brand}{trade}中心"
        capital = rng.randrange(1, 50) * 10_000 if individual else rng.randrange(10, 10_000) * 10**5
        return {
            "credit_code": identity.credit_code,
            "organisation_code": organisation,
            "registration_number": registration,
            "name": name,
            "kind": identity.kind,
            "legal_representative": self._representative(rng),
            "registered_capital": capital,
            "established_on": established,
            "division_code": identity.division_code,
            "address": street_address(rng, identity.division_code),
            "status": _STATUS.pick(rng),
            "business_scope": scope,
            "updated_at": self.as_of - timedelta(seconds=rng.randrange(2 * 86400)),
        }

    def _representative(self, rng: random.Random) -> str:
        # Prefer a living adult; the ID number alone tells the age.
        for _ in range(8):
            candidate = self.persons.id_number(rng.randrange(self.persons.count))
            if int(candidate[6:10]) <= self.as_of.year - 20:
                return candidate
        return candidate
