"""Names of fields (`Type.field`) and records (`Type:key`), checked at the edge."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.workflows.errors import InvalidRecordError, WorkflowInputError
from policies.errors import UnknownFieldError
from policies.grants import field_ref
from sources.identifiers import (
    CreditCode,
    IdNumber,
    InvalidIdentifierError,
    LicenseNumber,
    ParcelCode,
)
from sources.inventory import BY_ENTITY

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["RecordRef", "parse_field", "parse_text"]

#: How each type's key is checked (GB 11643, GB 32100, the cadastral and licence numbers).
_KEYS: dict[str, Callable[[str], object]] = {
    "Person": IdNumber.parse,
    "LegalEntity": CreditCode.parse,
    "LandParcel": ParcelCode.parse,
    "License": LicenseNumber.parse,
}


def parse_field(text: str) -> str:
    """`text` as a known field `Type.field`; raises WorkflowInputError naming what exists."""
    if len(text) > 128:
        raise WorkflowInputError(
            f"{_clip(text)!r} is not a field; write fields as Type.field, e.g. Person.name."
        )
    try:
        entity, name = field_ref(text.strip())
    except UnknownFieldError as error:
        raise WorkflowInputError(str(error)) from None
    return f"{entity}.{name}"


@dataclass(frozen=True, slots=True)
class RecordRef:
    """One record of a type, by its key: `Person:11010519491231002X` (as the audit log has it)."""

    type: str
    key: str

    def __str__(self) -> str:
        return f"{self.type}:{self.key}"

    @classmethod
    def parse(cls, text: str) -> RecordRef:
        """Check `Type:key`: a known type and a key that passes its identifier's checks.

        Raises WorkflowInputError for an unknown type, InvalidRecordError for a bad key.
        """
        entity, colon, raw = text.strip().partition(":")
        if not colon:
            raise WorkflowInputError(
                f"{_clip(text)!r} is not a record: write it as Type:key, e.g. "
                "Person:11010519491231002X."
            )
        check = _KEYS.get(entity)
        if check is None or entity not in BY_ENTITY:
            raise WorkflowInputError(
                f"{_clip(entity)!r} is not a type; the types are {', '.join(_KEYS)}."
            )
        try:
            key = str(check(raw))
        except InvalidIdentifierError as error:
            raise InvalidRecordError(str(error)) from None
        return cls(entity, key)


def parse_text(text: str, what: str, *, most: int, one_line: bool = False) -> str:
    """`text` stripped, when it is 1 to `most` characters of printable text.

    `one_line` also refuses commas (a reference goes into an author rule's note column).
    Raises WorkflowInputError saying what is wrong with `what`.
    """
    stripped = text.strip()
    if not stripped:
        raise WorkflowInputError(f"The {what} is empty; say it in words.")
    if len(stripped) > most:
        raise WorkflowInputError(
            f"The {what} is {len(stripped)} characters long; keep it to {most}."
        )
    allowed = {"\n", "\t"} if not one_line else set()
    bad = next((c for c in stripped if _control(c) and c not in allowed), None)
    if bad is not None:
        raise WorkflowInputError(
            f"The {what} contains the control character U+{ord(bad):04X}; remove it."
        )
    if one_line and "," in stripped:
        raise WorkflowInputError(
            f"The {what} may not contain commas (it is written into an author rule's note); "
            "use another separator."
        )
    return stripped


def _control(char: str) -> bool:
    # Cc, Cf, ... and the line and paragraph separators: they could hide text from a reader.
    category = unicodedata.category(char)
    return category[0] == "C" or category in {"Zl", "Zp"}


def _clip(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."
