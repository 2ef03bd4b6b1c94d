"""Synthetic land parcels with their real-estate right, inside Guangzhou's districts."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sources.divisions import GUANGZHOU_DISTRICTS
from sources.identifiers import ParcelCode
from sources.synthetic._random import Permutation, WeightedChoice, recent, record_rng
from sources.synthetic.vocab import LAND_USES, RIGHT_TYPES

if TYPE_CHECKING:
    import random

    from sources.synthetic.organisations import EntityFactory
    from sources.synthetic.people import PersonFactory

__all__ = ["ParcelFactory"]

_DIVISION = WeightedChoice([(d.code, d.weight) for d in GUANGZHOU_DISTRICTS.values()])
_LAND_USE = WeightedChoice(LAND_USES)
_ZONES, _SUBZONES, _SEQUENCES = 30, 20, 99_999


class ParcelFactory:
    """Builds parcel records; each parcel's right is held by a synthetic person or entity."""

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
        # (zone, sub-zone, sequence) is unique per parcel index, so parcel codes never collide.
        self._slots = Permutation(_ZONES * _SUBZONES * _SEQUENCES, seed=seed + 3)

    def record(self, index: int) -> dict[str, object]:
        """Parcel `index` as a row of the `land_parcels` table."""
        rng = record_rng(self.seed, "parcel", index)
        division = _DIVISION.pick(rng)
        slot, sequence = divmod(self._slots(index), _SEQUENCES)
        zone, subzone = divmod(slot, _SUBZONES)
        land_use = _LAND_USE.pick(rng)
        collective = land_use in ("耕地", "林地")
        feature = ("J" if collective else "G") + ("A" if collective else "B")
        code = ParcelCode.build(division, zone + 1, subzone + 1, feature, sequence + 1)
        if self.entities.count and (collective or rng.random() < 0.35):
            holder_kind = "entity"
            holder = self.entities.identity(rng.randrange(self.entities.count)).credit_code
        else:
            holder_kind = "person"
            holder = self.persons.id_number(rng.randrange(self.persons.count))
        registered = date(1998, 1, 1) + timedelta(days=rng.randrange(9_800))
        right = "集体土地所有权" if collective else RIGHT_TYPES[holder_kind]
        ring = _ring(rng, division)
        return {
            "parcel_code": code.value,
            "division_code": division,
            "land_use": land_use,
            "area": round(rng.lognormvariate(6.5, 1.1), 2),
            "geometry": json.dumps(
                {"type": "Polygon", "coordinates": [ring]}, separators=(",", ":")
            ),
            "right_holder_kind": holder_kind,
            "right_holder_id": holder,
            "right_type": right,
            "certificate_number": f"粤({registered.year})广州市不动产权第{index + 1:07d}号",
            "registered_on": registered,
            "updated_at": self.as_of - timedelta(seconds=recent(rng.randrange(90 * 86400))),
            "min_lon": min(x for x, _ in ring),
            "min_lat": min(y for _, y in ring),
            "max_lon": max(x for x, _ in ring),
            "max_lat": max(y for _, y in ring),
        }


def _ring(rng: random.Random, division: str) -> list[list[float]]:
    """A small quadrilateral inside the district's bounding box: a closed GeoJSON ring."""
    lon_min, lat_min, lon_max, lat_max = GUANGZHOU_DISTRICTS[division].bbox
    size = 0.0015
    lon = round(rng.uniform(lon_min, lon_max - size), 6)
    lat = round(rng.uniform(lat_min, lat_max - size), 6)
    dx, dy = round(rng.uniform(0.0003, size), 6), round(rng.uniform(0.0003, size), 6)
    ring = [[lon, lat], [lon + dx, lat], [lon + dx, lat + dy], [lon, lat + dy], [lon, lat]]
    return [[round(x, 6), round(y, 6)] for x, y in ring]
