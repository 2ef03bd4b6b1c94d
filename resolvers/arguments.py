"""What root fields do with their arguments before any SQL runs: checks, cursors, patterns.

Shared by the resolvers (`resolvers.root`) and the gateway's compiled plans, so both refuse the
same input with the same words.
"""

from __future__ import annotations

import base64
import binascii

from resolvers.errors import InvalidArgumentError, TooComplexError
from sources.identifiers import DivisionCode
from sources.inventory import BY_ENTITY

__all__ = [
    "after_key",
    "check_box",
    "check_page_size",
    "claims_given",
    "cursor",
    "division",
    "name_pattern",
    "plain_text",
]


#: base64's URL-safe alphabet from the standard one (what `base64.urlsafe_b64encode` does).
_URL_SAFE = bytes.maketrans(b"+/", b"-_")


def cursor(key: str) -> str:
    """The opaque cursor of the record `key`: the position a page ends at."""
    # base64.urlsafe_b64encode, without its two layers of Python calls: a page makes 100.
    encoded = binascii.b2a_base64(f"v1:{key}".encode(), newline=False)
    return encoded.translate(_URL_SAFE).decode("ascii")


def after_key(value: str | None) -> str | None:
    """The key a cursor stands for (None for no cursor).

    Raises InvalidArgumentError for a cursor this gateway did not issue.
    """
    if value is None:
        return None
    try:
        text = base64.urlsafe_b64decode(value.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        text = ""
    if not text.startswith("v1:"):
        raise InvalidArgumentError(
            "The 'after' cursor is not one this gateway issued; pass the endCursor of the "
            "previous page unchanged."
        )
    return text.removeprefix("v1:")


def check_page_size(first: int, cap: int) -> None:
    """Raises TooComplexError unless 1 <= `first` <= `cap` (the deployment's page-size cap)."""
    if first < 1 or first > cap:
        raise TooComplexError(
            f"'first' must be between 1 and {cap} (the page-size cap); "
            "ask for smaller pages and follow endCursor."
        )


def division(value: str | None) -> str | None:
    """A division code filter, checked (InvalidIdentifierError) and normalised."""
    return None if value is None else DivisionCode.parse(value).value


#: The escape character of name patterns: `/` means nothing else in SQLite, PostgreSQL or
#: MariaDB string literals (a backslash does in MariaDB's, unless NO_BACKSLASH_ESCAPES).
LIKE_ESCAPE = "/"


def name_pattern(entity: str, value: str) -> str:
    """The LIKE pattern (escape character `LIKE_ESCAPE`) for `entity` names starting with
    `value`: `%` and `_` in a name are letters, not wildcards.

    Raises InvalidArgumentError for an empty (or all blank) name, or one longer than any name
    of `entity` (a longer prefix matches nothing; unbounded, it failed in the database).
    """
    prefix = value.strip()
    if not prefix:
        raise InvalidArgumentError("The name filter is empty; give at least one character.")
    column = BY_ENTITY[entity].table.c["name"]
    longest = getattr(column.type, "length", None)
    if longest is not None and len(prefix) > longest:
        raise InvalidArgumentError(
            f"The name filter is {len(prefix)} characters long; a {entity} name has at most "
            f"{longest}, so give a prefix of at most {longest} characters."
        )
    escape = LIKE_ESCAPE
    escaped = prefix.replace(escape, escape * 2).replace("%", f"{escape}%")
    return escaped.replace("_", f"{escape}_") + "%"


def check_box(min_lon: float, min_lat: float, max_lon: float, max_lat: float) -> None:
    """Raises InvalidArgumentError for a bounding box that is not a WGS 84 rectangle."""
    if not (-180 <= min_lon < max_lon <= 180 and -90 <= min_lat < max_lat <= 90):
        raise InvalidArgumentError(
            "The bounding box needs minLon < maxLon within -180..180 and minLat < maxLat within "
            "-90..90 (WGS 84 degrees), e.g. Tianhe: 113.30, 23.10, 113.44, 23.25."
        )


def claims_given(claims: dict[str, str | None]) -> dict[str, str]:
    """The claims a verification was given (column -> claimed value), in the order given.

    Raises InvalidArgumentError when there are none: a verification checks something.
    """
    given = {column: value for column, value in claims.items() if value is not None}
    if not given:
        raise InvalidArgumentError("Give at least one value to verify besides idNumber, e.g. name.")
    return given


def plain_text(value: object) -> str:
    """A stored value as a verification compares it with a claim (dates as YYYY-MM-DD)."""
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)
