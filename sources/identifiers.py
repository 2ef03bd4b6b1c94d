"""Identifier value types for Chinese government base data, validated at the edge.

Standards: GB 11643-1999 (resident identity number), GB 11714-1997 (organisation code),
GB 32100-2015 (unified social credit code), GS 15-2006 (business registration number),
GB/T 13923 and TD/T 1057 (cadastral parcel code), GB/T 2260 (administrative division code),
and govgate's electronic licence number, modelled on GB/T 36904.

Every type is a frozen dataclass holding the normalised string. ``parse`` strips and normalises
raw input; the constructor validates, so an invalid instance cannot exist.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import TYPE_CHECKING, ClassVar, Literal, NoReturn, Self

from sources._checksums import (
    CREDIT_ALPHABET,
    credit_code_check,
    mod11_2,
    mod11_10,
    organisation_code_check,
)
from sources.errors import SourceError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "LICENSE_KINDS",
    "PROVINCES",
    "Check",
    "CreditCode",
    "DivisionCode",
    "IdNumber",
    "InvalidIdentifierError",
    "LicenseNumber",
    "OrganisationCode",
    "ParcelCode",
    "RegistrationNumber",
]

Check = Literal["length", "character set", "division", "birth date", "check character", "structure"]

#: GB/T 2260 province-level codes (the first two digits of a division code) and their names.
PROVINCES: dict[str, str] = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区",
    "21": "辽宁省", "22": "吉林省", "23": "黑龙江省",
    "31": "上海市", "32": "江苏省", "33": "浙江省", "34": "安徽省", "35": "福建省",
    "36": "江西省", "37": "山东省",
    "41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区",
    "46": "海南省",
    "50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省", "54": "西藏自治区",
    "61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区",
    "71": "台湾省", "81": "香港特别行政区", "82": "澳门特别行政区",
}  # fmt: skip

#: Licence kind codes used in :class:`LicenseNumber`, with their human names.
LICENSE_KINDS: dict[str, str] = {
    "BL": "business licence",
    "FB": "food business permit",
    "CP": "construction permit",
    "DL": "driving licence",
    "MC": "marriage certificate",
}

# Character classes for the per-position shapes below: (allowed characters, description).
# A check character's position is "*": any character is let through to the check-character
# check, whose message ("is 'Y' but GB 11643 gives 'X'") says more than a character set would.
_CLASSES: dict[str, tuple[frozenset[str], str]] = {
    "d": (frozenset(string.digits), "digits"),
    "a": (frozenset(string.digits + string.ascii_uppercase), "digits and letters A-Z"),
    "c": (frozenset(CREDIT_ALPHABET), "digits and letters A-Z except I, O, S, V and Z"),
    "L": (frozenset(string.ascii_uppercase), "letters A-Z"),
    "-": (frozenset("-"), "a hyphen"),
    "*": (frozenset(), "any character"),
}


_EARLIEST_BIRTH_DATE = date(1800, 1, 1)  # GB 11643's own example is born in 1880
_EARLIEST_LICENCE_YEAR = 1949
_PARCEL_OWNERSHIP = "GJZ"
_PARCEL_RIGHT_TYPES = "ABSXCDEFHLNGWY"


@cache
def _shape_pattern(shape: str) -> re.Pattern[str]:
    # One compiled regex per shape is the fast path for valid input (the generator builds
    # millions); the per-position scan in _check_shape only runs to explain a failure.
    def regex(klass: str) -> str:
        return "." if klass == "*" else "[" + re.escape("".join(sorted(_CLASSES[klass][0]))) + "]"

    return re.compile("".join(map(regex, shape)), re.DOTALL)


def _normalised(raw: str) -> str:
    value = raw.strip()
    # Only ASCII is case-folded: str.upper() turns some non-ASCII letters into ASCII ones
    # ('ﬁ' -> 'FI'), which would let look-alike input through.
    return value.upper() if value.isascii() else value


def _calendar_date(yyyymmdd: str) -> date | None:
    try:
        return date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return None


def _check_or_placeholder(compute: Callable[[str], str], body: str) -> str:
    # An uncomputable check character means build() was given a malformed part; a placeholder
    # lets the constructor report exactly what is wrong, as it would for parsed input.
    try:
        return compute(body)
    except ValueError:
        return "?"


def _in_range(name: str, number: int, low: int, high: int) -> None:
    if not low <= number <= high:
        raise ValueError(f"{name} must be between {low} and {high}, not {number}")


def _shown(value: str) -> str:
    # Keep log lines bounded when someone pastes a whole document into an identifier field.
    return repr(value) if len(value) <= 64 else f"{value[:60]!r}... ({len(value)} characters)"


class InvalidIdentifierError(SourceError, ValueError):
    """Raised when a string is not a valid identifier of the expected kind.

    A ``ValueError`` for callers that treat it as bad input, and a ``SourceError`` like every
    other error from ``sources``.

    Attributes:
        kind: Human name of the identifier type, e.g. "resident ID number".
        value: The raw input as given.
        check: The check that failed: "length", "character set", "division", "birth date",
            "check character" or "structure".
    """

    def __init__(self, kind: str, value: str, check: Check, reason: str, remedy: str) -> None:
        self.kind = kind
        self.value = value
        self.check: Check = check
        self.reason = reason
        self.remedy = remedy
        super().__init__(f"{_shown(value)} is not a valid {kind}: {reason}; {remedy}.")

    def __reduce__(self) -> tuple[type[InvalidIdentifierError], tuple[str, str, Check, str, str]]:
        # The default reduce replays args (just the message) into __init__, which needs five.
        return type(self), (self.kind, self.value, self.check, self.reason, self.remedy)

    def _for_input(self, value: str) -> InvalidIdentifierError:
        return type(self)(self.kind, value, self.check, self.reason, self.remedy)


@dataclass(frozen=True, slots=True)
class _Identifier:
    value: str

    _KIND: ClassVar[str]
    _REMEDY: ClassVar[str]
    _LENGTH: ClassVar[int]
    _SHAPE: ClassVar[str]  # one _CLASSES key (or "*") per position

    def __post_init__(self) -> None:
        if not isinstance(self.value, str):
            raise TypeError(f"{type(self).__name__} takes a str, not {type(self.value).__name__}")
        self._validate(self.value)

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, raw: str) -> Self:
        """Strip, normalise and validate raw input.

        Raises:
            InvalidIdentifierError: On the first failed check; its ``value`` is ``raw``.
        """
        if not isinstance(raw, str):
            raise TypeError(f"{cls.__name__}.parse takes a str, not {type(raw).__name__}")
        try:
            return cls(cls._normalise(raw))
        except InvalidIdentifierError as err:
            # Report the caller's input, not our normalised copy of it.
            raise err._for_input(raw) from None

    @classmethod
    def _normalise(cls, raw: str) -> str:
        return _normalised(raw)

    @classmethod
    def _validate(cls, value: str) -> None:
        cls._check_shape(value)

    @classmethod
    def _fail(cls, value: str, check: Check, reason: str) -> NoReturn:
        raise InvalidIdentifierError(cls._KIND, value, check, reason, cls._REMEDY)

    @classmethod
    def _check_shape(cls, value: str) -> None:
        # Length first, then each position against its character class, left to right.
        if len(value) != cls._LENGTH:
            cls._fail(value, "length", f"its length is {len(value)} characters, not {cls._LENGTH}")
        if _shape_pattern(cls._SHAPE).fullmatch(value):
            return
        for position, (char, klass) in enumerate(zip(value, cls._SHAPE, strict=True), start=1):
            if klass == "*":
                continue
            allowed, description = _CLASSES[klass]
            if char in allowed:
                continue
            if klass == "-":
                cls._fail(
                    value, "structure", f"character {position} is {char!r} where a hyphen belongs"
                )
            if char == "-" and "-" in cls._SHAPE:
                cls._fail(value, "structure", f"character {position} is a hyphen out of place")
            cls._fail(
                value,
                "character set",
                f"character {position} is {char!r}, outside the character set for that position "
                f"({description})",
            )

    @classmethod
    def _check_division(cls, value: str, code: str, where: str = "") -> None:
        named = f"the division code {code!r}" + (f" ({where})" if where else "")
        if not (code.isascii() and code.isdigit()):
            cls._fail(value, "division", f"{named} is not six digits")
        if code[:2] not in PROVINCES:
            cls._fail(value, "division", f"{named} does not start with a GB/T 2260 province code")

    @classmethod
    def _check_character(
        cls, value: str, given: str, expected: str, standard: str, body: str
    ) -> None:
        if given != expected:
            cls._fail(
                value,
                "check character",
                f"the check character is {given!r} but {standard} gives {expected!r} for {body}",
            )


@dataclass(frozen=True, slots=True)
class DivisionCode(_Identifier):
    """A six-digit GB/T 2260 administrative division code with a known province prefix."""

    _KIND = "division code"
    _REMEDY = "use a six-digit code from GB/T 2260"
    _LENGTH = 6
    _SHAPE = "dddddd"

    @classmethod
    def _validate(cls, value: str) -> None:
        cls._check_shape(value)
        cls._check_division(value, value)

    @property
    def province_code(self) -> str:
        """The two-digit province-level code, e.g. "44"."""
        return self.value[:2]

    @property
    def province(self) -> str:
        """The province-level division's name, e.g. "广东省"."""
        return PROVINCES[self.value[:2]]


@dataclass(frozen=True, slots=True)
class IdNumber(_Identifier):
    """An 18-character resident identity number (GB 11643-1999)."""

    _KIND = "resident ID number"
    _REMEDY = "re-read the number from the ID card"
    _LENGTH = 18
    _SHAPE = "d" * 17 + "*"

    @classmethod
    def _validate(cls, value: str) -> None:
        cls._check_shape(value)
        cls._check_division(value, value[:6], "characters 1-6")
        born = _calendar_date(value[6:14])
        if born is None:
            cls._fail(value, "birth date", f"the birth date {value[6:14]!r} is not a calendar date")
        if born < _EARLIEST_BIRTH_DATE:
            cls._fail(
                value, "birth date", f"the birth date {born} is before {_EARLIEST_BIRTH_DATE}"
            )
        if born > date.today():
            cls._fail(value, "birth date", f"the birth date {born} is in the future")
        cls._check_character(
            value, value[17], mod11_2(value[:17]), "GB 11643", "the first 17 characters"
        )

    @classmethod
    def check_character(cls, body17: str) -> str:
        """Return the GB 11643 check character for the first 17 digits."""
        if len(body17) != 17:
            raise ValueError(f"an ID number body has 17 digits, not {len(body17)}")
        return mod11_2(body17)

    @classmethod
    def build(cls, division_code: str, birth_date: date, sequence: int) -> Self:
        """Build a valid ID number; ``sequence`` (0-999) becomes the 3-digit sequence code."""
        _in_range("sequence", sequence, 0, 999)
        DivisionCode._validate(division_code)
        body = (
            f"{division_code}{birth_date.year:04d}{birth_date.month:02d}{birth_date.day:02d}"
            f"{sequence:03d}"
        )
        return cls(body + _check_or_placeholder(mod11_2, body))

    @property
    def division_code(self) -> str:
        """The six-digit division code of the place of first registration."""
        return self.value[:6]

    @property
    def birth_date(self) -> date:
        """The holder's date of birth."""
        v = self.value
        return date(int(v[6:10]), int(v[10:12]), int(v[12:14]))

    @property
    def sequence(self) -> str:
        """The three-digit sequence code (characters 15-17)."""
        return self.value[14:17]

    @property
    def gender(self) -> Literal["male", "female"]:
        """The holder's gender: an odd 17th digit means male."""
        return "male" if int(self.value[16]) % 2 else "female"


@dataclass(frozen=True, slots=True)
class OrganisationCode(_Identifier):
    """A GB 11714-1997 organisation code: 8 body characters and a check character.

    ``parse`` accepts the printed form with a hyphen before the check character
    ("D2143569-X"); the value never has one.
    """

    _KIND = "organisation code"
    _REMEDY = "re-read the code from the organisation code certificate"
    _LENGTH = 9
    _SHAPE = "a" * 8 + "*"

    @classmethod
    def _normalise(cls, raw: str) -> str:
        value = _normalised(raw)
        if len(value) == 10 and value[8] == "-":
            return value[:8] + value[9]
        return value

    @classmethod
    def _validate(cls, value: str) -> None:
        cls._check_shape(value)
        cls._check_character(
            value,
            value[8],
            organisation_code_check(value[:8]),
            "GB 11714",
            "the first 8 characters",
        )

    @classmethod
    def check_character(cls, body8: str) -> str:
        """Return the GB 11714 check character for the 8 body characters."""
        return organisation_code_check(body8)


@dataclass(frozen=True, slots=True)
class CreditCode(_Identifier):
    """An 18-character unified social credit code (GB 32100-2015)."""

    _KIND = "unified social credit code"
    _REMEDY = "re-read the code from the business licence or registration certificate"
    _LENGTH = 18
    _SHAPE = "c" * 17 + "*"

    @classmethod
    def _validate(cls, value: str) -> None:
        cls._check_shape(value)
        cls._check_division(value, value[2:8], "characters 3-8")
        organisation = value[8:17]
        expected = organisation_code_check(organisation[:8])
        if organisation[8] != expected:
            cls._fail(
                value,
                "check character",
                f"the embedded organisation code {organisation!r} (characters 9-17) has check "
                f"character {organisation[8]!r} but GB 11714 gives {expected!r}",
            )
        cls._check_character(
            value, value[17], credit_code_check(value[:17]), "GB 32100", "the first 17 characters"
        )

    @classmethod
    def check_character(cls, body17: str) -> str:
        """Return the GB 32100 check character for the first 17 characters."""
        return credit_code_check(body17)

    @classmethod
    def build(
        cls, authority: str, category: str, division_code: str, organisation_body8: str
    ) -> Self:
        """Build a valid credit code, computing both the embedded and the final check."""
        DivisionCode._validate(division_code)
        organisation_check = _check_or_placeholder(organisation_code_check, organisation_body8)
        body = f"{authority}{category}{division_code}{organisation_body8}{organisation_check}"
        return cls(body + _check_or_placeholder(credit_code_check, body))

    @property
    def registration_authority(self) -> str:
        """The registration authority code (character 1)."""
        return self.value[0]

    @property
    def category(self) -> str:
        """The organisation category code (character 2)."""
        return self.value[1]

    @property
    def division_code(self) -> str:
        """The six-digit division code of the registration authority."""
        return self.value[2:8]

    @property
    def organisation_code(self) -> OrganisationCode:
        """The embedded GB 11714 organisation code (characters 9-17)."""
        return OrganisationCode(self.value[8:17])


@dataclass(frozen=True, slots=True)
class RegistrationNumber(_Identifier):
    """A 15-digit business registration number (GS 15-2006), in use before 2015."""

    _KIND = "business registration number"
    _REMEDY = "re-read the number from the business licence"
    _LENGTH = 15
    _SHAPE = "d" * 14 + "*"

    @classmethod
    def _validate(cls, value: str) -> None:
        cls._check_shape(value)
        cls._check_division(value, value[:6], "characters 1-6")
        cls._check_character(
            value, value[14], mod11_10(value[:14]), "GS 15-2006", "the first 14 digits"
        )

    @classmethod
    def check_digit(cls, body14: str) -> str:
        """Return the ISO 7064 MOD 11,10 check digit for the first 14 digits."""
        if len(body14) != 14:
            raise ValueError(f"a registration number body has 14 digits, not {len(body14)}")
        return mod11_10(body14)

    @property
    def division_code(self) -> str:
        """The six-digit division code of the registering authority."""
        return self.value[:6]


@dataclass(frozen=True, slots=True)
class ParcelCode(_Identifier):
    """A 19-character cadastral parcel code (宗地代码, GB/T 13923, TD/T 1057).

    Division code (6 digits), cadastral zone (3), sub-zone (3), parcel feature code (2 letters:
    ownership G/J/Z, then the land use right type) and parcel sequence (5). It has no check
    character.
    """

    _KIND = "cadastral parcel code"
    _REMEDY = "re-read the code from the real estate register"
    _LENGTH = 19
    _SHAPE = "d" * 12 + "LL" + "d" * 5

    @classmethod
    def _validate(cls, value: str) -> None:
        cls._check_shape(value)
        cls._check_division(value, value[:6], "characters 1-6")
        if value[12] not in _PARCEL_OWNERSHIP:
            cls._fail(
                value,
                "structure",
                f"the feature code {value[12:14]!r} must start with G (state-owned), "
                f"J (collective) or Z (disputed ownership)",
            )
        if value[13] not in _PARCEL_RIGHT_TYPES:
            cls._fail(
                value,
                "structure",
                f"the feature code {value[12:14]!r} must end with a land use right type, one of "
                f"{', '.join(_PARCEL_RIGHT_TYPES)}",
            )
        if value[14:] == "00000":
            cls._fail(
                value, "structure", "the parcel sequence is 00000 but numbering starts at 00001"
            )

    @classmethod
    def build(
        cls, division_code: str, zone: int, subzone: int, feature: str, sequence: int
    ) -> Self:
        """Build a parcel code from its parts (zone and sub-zone 0-999, sequence 1-99999)."""
        _in_range("zone", zone, 0, 999)
        _in_range("subzone", subzone, 0, 999)
        _in_range("sequence", sequence, 1, 99999)
        DivisionCode._validate(division_code)
        return cls(f"{division_code}{zone:03d}{subzone:03d}{feature}{sequence:05d}")

    @property
    def division_code(self) -> str:
        """The six-digit division code."""
        return self.value[:6]

    @property
    def feature_code(self) -> str:
        """The two-letter parcel feature code: ownership, then land use right type."""
        return self.value[12:14]


@dataclass(frozen=True, slots=True)
class LicenseNumber(_Identifier):
    """A govgate electronic licence number "KK-DDDDDD-YYYY-NNNNNN-C".

    Modelled on GB/T 36904 electronic licence identifiers: kind code (see ``LICENSE_KINDS``),
    division code, issue year, sequence, and an ISO 7064 MOD 11-2 check character over the 16
    digits.
    """

    _KIND = "licence number"
    _REMEDY = "re-read the number from the licence"
    _LENGTH = 23
    _SHAPE = "LL-dddddd-dddd-dddddd-*"

    @classmethod
    def _validate(cls, value: str) -> None:
        cls._check_shape(value)
        if value[:2] not in LICENSE_KINDS:
            known = ", ".join(f"{code} ({name})" for code, name in LICENSE_KINDS.items())
            cls._fail(value, "structure", f"the kind code {value[:2]!r} is not one of {known}")
        cls._check_division(value, value[3:9], "characters 4-9")
        year = int(value[10:14])
        this_year = date.today().year
        if not _EARLIEST_LICENCE_YEAR <= year <= this_year:
            cls._fail(
                value,
                "structure",
                f"the issue year {year} is outside {_EARLIEST_LICENCE_YEAR}-{this_year}",
            )
        digits = value[3:9] + value[10:14] + value[15:21]
        cls._check_character(
            value, value[22], mod11_2(digits), "ISO 7064 MOD 11-2", "the 16 digits"
        )

    @classmethod
    def build(cls, kind_code: str, division_code: str, year: int, sequence: int) -> Self:
        """Build a valid licence number; ``sequence`` (0-999999) is zero-padded to 6 digits."""
        _in_range("sequence", sequence, 0, 999_999)
        _in_range("year", year, 0, 9999)
        DivisionCode._validate(division_code)
        check = mod11_2(f"{division_code}{year:04d}{sequence:06d}")
        return cls(f"{kind_code}-{division_code}-{year:04d}-{sequence:06d}-{check}")

    @property
    def kind_code(self) -> str:
        """The two-letter licence kind code, e.g. "BL"."""
        return self.value[:2]

    @property
    def kind(self) -> str:
        """The licence kind's human name, e.g. "business licence"."""
        return LICENSE_KINDS[self.value[:2]]

    @property
    def division_code(self) -> str:
        """The six-digit division code of the issuing authority."""
        return self.value[3:9]

    @property
    def year(self) -> int:
        """The issue year."""
        return int(self.value[10:14])
