"""Check-character algorithms behind :mod:`sources.identifiers`.

ISO 7064 MOD 11-2 (GB 11643-1999 and govgate's licence numbers), ISO 7064 MOD 11,10
(GS 15-2006), the GB 11714-1997 organisation code check and the GB 32100-2015 credit code
check. Each takes the body without its check character and returns the check character.
"""

from __future__ import annotations

import string
from functools import cache
from operator import mul

__all__ = [
    "CREDIT_ALPHABET",
    "credit_code_check",
    "mod11_2",
    "mod11_10",
    "organisation_code_check",
]

#: GB 32100-2015 alphabet; a character's value is its index. I, O, S, V and Z are left out
#: because they are easily mistaken for 1, 0, 5, U and 2.
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"

# Lookup tables rather than int()/str.index(): int() also accepts non-ASCII digits such as
# '٣', and the generator calls these functions millions of times.
_DIGIT_VALUES = {c: i for i, c in enumerate(string.digits)}
_ORGANISATION_VALUES = {c: i for i, c in enumerate(string.digits + string.ascii_uppercase)}
_CREDIT_VALUES = {c: i for i, c in enumerate(CREDIT_ALPHABET)}

_ORGANISATION_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_CREDIT_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_MOD11_2_CHARACTERS = "10X98765432"


@cache
def _mod11_2_weights(length: int) -> tuple[int, ...]:
    # ISO 7064 counts positions from the right, the check character being position 1 with
    # weight 2**0, so the leftmost of `length` body digits has weight 2**length mod 11.
    return tuple(pow(2, length - i, 11) for i in range(length))


# Warm the cache for the two lengths in use (17-digit ID body, 16-digit licence body).
_mod11_2_weights(16)
_mod11_2_weights(17)


def _reject(body: str, what: str) -> ValueError:
    return ValueError(f"{body!r} is not a valid body for {what}; check the characters and length")


def mod11_2(digits: str) -> str:
    """Return the ISO 7064 MOD 11-2 check character ('0'-'9' or 'X') for a string of digits.

    For 17 digits the weights are [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], as in
    GB 11643-1999; other lengths use the trailing weights of the same sequence.
    """
    if not digits:
        raise _reject(digits, "ISO 7064 MOD 11-2")
    try:
        total = sum(map(mul, map(_DIGIT_VALUES.__getitem__, digits), _mod11_2_weights(len(digits))))
    except KeyError:
        raise _reject(digits, "ISO 7064 MOD 11-2") from None
    return _MOD11_2_CHARACTERS[total % 11]


def mod11_10(digits: str) -> str:
    """Return the ISO 7064 MOD 11,10 check digit for a string of digits (GS 15-2006)."""
    if not digits:
        raise _reject(digits, "ISO 7064 MOD 11,10")
    product = 10
    try:
        for c in digits:
            remainder = (product % 11 + _DIGIT_VALUES[c]) % 10
            product = (remainder or 10) * 2
    except KeyError:
        raise _reject(digits, "ISO 7064 MOD 11,10") from None
    # The standard accepts a number when (product mod 11 + check) mod 10 == 1; solve for check.
    return str((11 - product % 11) % 10)


def organisation_code_check(body8: str) -> str:
    """Return the GB 11714-1997 check character for the 8-character organisation code body."""
    if len(body8) != 8:
        raise _reject(body8, "GB 11714")
    try:
        total = sum(map(mul, map(_ORGANISATION_VALUES.__getitem__, body8), _ORGANISATION_WEIGHTS))
    except KeyError:
        raise _reject(body8, "GB 11714") from None
    check = 11 - total % 11
    if check == 10:
        return "X"
    if check == 11:
        return "0"
    return str(check)


def credit_code_check(body17: str) -> str:
    """Return the GB 32100-2015 check character for the 17-character credit code body."""
    if len(body17) != 17:
        raise _reject(body17, "GB 32100")
    try:
        total = sum(map(mul, map(_CREDIT_VALUES.__getitem__, body17), _CREDIT_WEIGHTS))
    except KeyError:
        raise _reject(body17, "GB 32100") from None
    return CREDIT_ALPHABET[(31 - total % 31) % 31]
