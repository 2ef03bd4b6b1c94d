"""Agencies that issue licences, and which one issues a given kind of licence where.

The seal registry (`issuer_keys`) holds a public key for each; the shipped catalogue lists each
as an agency (a test checks it).
"""

from __future__ import annotations

__all__ = ["ISSUERS", "issuer_for"]

ISSUERS: dict[str, str] = {
    "GZ-AMR": "广州市市场监督管理局",
    "YX-AMR": "广州市越秀区市场监督管理局",
    "GZ-PSB": "广州市公安局",
    "GZ-HOUSING": "广州市住房和城乡建设局",
    "GZ-CA": "广州市民政局",
    "TH-CA": "广州市天河区民政局",
}

# Licence kind code -> (issuer for one district, that district) or the city-level issuer only.
_DISTRICT_ISSUERS: dict[str, tuple[str, str]] = {
    "BL": ("YX-AMR", "440104"),
    "FB": ("YX-AMR", "440104"),
    "MC": ("TH-CA", "440106"),
}
_CITY_ISSUERS: dict[str, str] = {
    "BL": "GZ-AMR",
    "FB": "GZ-AMR",
    "CP": "GZ-HOUSING",
    "DL": "GZ-PSB",
    "MC": "GZ-CA",
}


def issuer_for(kind_code: str, division_code: str) -> str:
    """The agency that issues licences of `kind_code` to holders in `division_code`."""
    local = _DISTRICT_ISSUERS.get(kind_code)
    if local is not None and local[1] == division_code:
        return local[0]
    return _CITY_ISSUERS[kind_code]
