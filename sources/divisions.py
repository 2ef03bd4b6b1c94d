"""Administrative divisions (GB/T 2260) used by the base databases.

Every record carries the division code it belongs to (Art. 21), and district agencies are
scoped to theirs. Guangzhou is 440100; its eleven districts are 4401xx. The bounding boxes are
approximate (WGS 84 longitude/latitude) and only used to place synthetic parcels.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "GUANGZHOU",
    "GUANGZHOU_BBOX",
    "GUANGZHOU_DISTRICTS",
    "ORIGIN_DIVISIONS",
    "District",
    "district",
]

GUANGZHOU = "440100"

#: lon_min, lat_min, lon_max, lat_max of the whole city.
GUANGZHOU_BBOX = (112.95, 22.55, 114.05, 23.95)


@dataclass(frozen=True, slots=True)
class District:
    """One of Guangzhou's districts."""

    code: str
    name: str
    name_en: str
    bbox: tuple[float, float, float, float]
    #: relative population, used to spread synthetic residents realistically.
    weight: int


GUANGZHOU_DISTRICTS: dict[str, District] = {
    d.code: d
    for d in (
        District("440103", "荔湾区", "Liwan", (113.17, 23.04, 113.27, 23.16), 11),
        District("440104", "越秀区", "Yuexiu", (113.23, 23.11, 113.32, 23.17), 10),
        District("440105", "海珠区", "Haizhu", (113.24, 23.05, 113.41, 23.11), 18),
        District("440106", "天河区", "Tianhe", (113.30, 23.10, 113.44, 23.25), 22),
        District("440111", "白云区", "Baiyun", (113.15, 23.15, 113.50, 23.45), 37),
        District("440112", "黄埔区", "Huangpu", (113.40, 23.05, 113.60, 23.40), 12),
        District("440113", "番禺区", "Panyu", (113.25, 22.87, 113.55, 23.07), 28),
        District("440114", "花都区", "Huadu", (113.00, 23.30, 113.45, 23.60), 16),
        District("440115", "南沙区", "Nansha", (113.30, 22.56, 113.70, 22.90), 9),
        District("440117", "从化区", "Conghua", (113.30, 23.50, 114.00, 23.90), 7),
        District("440118", "增城区", "Zengcheng", (113.55, 23.10, 114.00, 23.60), 15),
    )
}

#: Divisions where Guangzhou residents were first registered (the first six digits of their
#: resident ID number). Old codes 440102 (Dongshan) and 440107 (Fangcun) no longer exist but
#: still appear in the ID numbers of people born there, as in real data.
ORIGIN_DIVISIONS: tuple[str, ...] = (
    "440102",
    "440107",
    "440301",
    "441402",
    "445102",
    "430102",
    "450102",
    "360102",
    "510104",
    "420102",
)


def district(code: str) -> District:
    """The Guangzhou district with this code; raises KeyError naming the known codes."""
    try:
        return GUANGZHOU_DISTRICTS[code]
    except KeyError:
        known = ", ".join(GUANGZHOU_DISTRICTS)
        raise KeyError(f"{code} is not a Guangzhou district code; known codes: {known}") from None
