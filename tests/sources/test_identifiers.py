"""Tests for sources.identifiers: worked examples from the standards and mutations of them."""

from __future__ import annotations

import dataclasses
import pickle
import random
import string
from datetime import date, timedelta
from typing import TYPE_CHECKING

import pytest

from sources.errors import SourceError
from sources.identifiers import (
    LICENSE_KINDS,
    PROVINCES,
    CreditCode,
    DivisionCode,
    IdNumber,
    InvalidIdentifierError,
    LicenseNumber,
    OrganisationCode,
    ParcelCode,
    RegistrationNumber,
)

if TYPE_CHECKING:
    from collections.abc import Callable

# Worked examples printed in the standards themselves.
ID_EXAMPLES = ["11010519491231002X", "440524188001010014"]  # GB 11643-1999
ORGANISATION_EXAMPLE = "D2143569-X"  # GB 11714-1997
CREDIT_EXAMPLE = "91350100M000100Y43"  # GB 32100-2015
REGISTRATION_EXAMPLE = "110108000000016"  # GS 15-2006
# Further widely published credit codes, each verified below by an independent computation.
CREDIT_EXAMPLES = [CREDIT_EXAMPLE, "914403001922038216", "91110108551385082Q"]

CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# Characters tried in place of a check character. Whitespace is left out: parse strips it.
SUBSTITUTES = string.digits + string.ascii_letters + "-*/#"

# What each failed check must be called in the message, so a reader knows what went wrong.
CHECK_WORDS = {
    "length": "length",
    "character set": "character set",
    "division": "division code",
    "birth date": "birth date",
    "check character": "check character",
}


def _rejects(
    parse: Callable[[str], object], raw: str, check: str, *words: str
) -> InvalidIdentifierError:
    with pytest.raises(InvalidIdentifierError) as info:
        parse(raw)
    err = info.value
    assert err.check == check, str(err)
    assert err.value == raw
    message = str(err)
    assert message.startswith(f"{raw!r} is not a valid {err.kind}: ")
    assert message.endswith(".")
    for word in (CHECK_WORDS.get(check, ""), *words):
        assert word in message
    return err


def _substitutes(correct: str) -> list[str]:
    # parse upper-cases ASCII, so 'x' for 'X' is the same character to it.
    return [c for c in SUBSTITUTES if c.upper() != correct]


# Independent reference implementations, written from the standards' definitions rather than
# shared with the module, so a wrong weight table in one of them shows up as a mismatch.


def _iso7064_mod11_2(digits: str) -> str:
    # The recursive form of ISO 7064 MOD 11-2: no weight table at all.
    p = 0
    for c in digits:
        p = (p + int(c)) * 2 % 11
    return "0123456789X"[(12 - p) % 11]


def _gs15_accepts(number: str) -> bool:
    # GS 15-2006 states the check as a property of all 15 digits: the last S_j mod 10 is 1.
    p = 10
    for i, c in enumerate(number):
        s = p % 11 + int(c)
        if i == len(number) - 1:
            return s % 10 == 1
        p = (s % 10 or 10) * 2
    return False


def _gb11714(body8: str) -> str:
    weights = [3, 7, 9, 10, 5, 8, 4, 2]
    c = 11 - sum(int(ch, 36) * w for ch, w in zip(body8, weights, strict=True)) % 11
    return {10: "X", 11: "0"}.get(c, str(c))


def _gb32100(body17: str) -> str:
    total = sum(CREDIT_ALPHABET.index(ch) * 3**i % 31 for i, ch in enumerate(body17))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


# --- errors ---------------------------------------------------------------------------------


def test_error_message_is_the_documented_sentence() -> None:
    err = _rejects(IdNumber.parse, "11010519491231002Y", "check character")
    assert str(err) == (
        "'11010519491231002Y' is not a valid resident ID number: the check character is 'Y' "
        "but GB 11643 gives 'X' for the first 17 characters; re-read the number from the ID card."
    )
    assert err.kind == "resident ID number"


def test_error_is_a_value_error_and_a_source_error() -> None:
    with pytest.raises(ValueError, match="not a valid resident ID number"):
        IdNumber.parse("1101")
    assert issubclass(InvalidIdentifierError, SourceError)


def test_error_keeps_the_raw_input_as_given() -> None:
    raw = "  11010519491231002y\n"
    err = _rejects(IdNumber.parse, raw, "check character")
    assert err.value == raw


def test_error_survives_pickling() -> None:
    err = _rejects(OrganisationCode.parse, "D2143569-Y", "check character")
    copy = pickle.loads(pickle.dumps(err))  # noqa: S301 - our own object
    assert (copy.kind, copy.value, copy.check, str(copy)) == (
        err.kind,
        err.value,
        err.check,
        str(err),
    )


def test_error_message_does_not_echo_a_huge_input_in_full() -> None:
    raw = "1" * 10_000
    with pytest.raises(InvalidIdentifierError) as info:
        IdNumber.parse(raw)
    assert info.value.value == raw
    assert info.value.check == "length"
    assert len(str(info.value)) < 300


# --- resident ID number (GB 11643-1999) -----------------------------------------------------


@pytest.mark.parametrize("value", ID_EXAMPLES)
def test_id_number_accepts_the_gb_11643_worked_examples(value: str) -> None:
    parsed = IdNumber.parse(value)
    assert parsed.value == value
    assert str(parsed) == value
    assert IdNumber.check_character(value[:17]) == value[17] == _iso7064_mod11_2(value[:17])


def test_id_number_parse_uppercases_the_check_character_and_strips_whitespace() -> None:
    assert IdNumber.parse(" 11010519491231002x\t").value == "11010519491231002X"
    assert IdNumber.parse("11010519491231002x") == IdNumber("11010519491231002X")


@pytest.mark.parametrize("value", ID_EXAMPLES)
def test_id_number_rejects_wrong_check_character(value: str) -> None:
    for c in _substitutes(value[17]):
        _rejects(IdNumber.parse, value[:17] + c, "check character", repr(c.upper()))


@pytest.mark.parametrize("value", ID_EXAMPLES)
def test_id_number_rejects_truncations_and_extensions(value: str) -> None:
    for end in range(18):
        _rejects(IdNumber.parse, value[:end], "length", f"{end} characters")
    _rejects(IdNumber.parse, value + "0", "length", "19 characters")


@pytest.mark.parametrize("value", ID_EXAMPLES)
def test_id_number_rejects_a_letter_in_a_digit_position(value: str) -> None:
    for i in range(17):
        _rejects(IdNumber.parse, value[:i] + "A" + value[i + 1 :], "character set", "'A'")


def test_id_number_rejects_non_ascii_digits() -> None:
    _rejects(IdNumber.parse, "１１010519491231002X", "character set")  # full-width digits
    _rejects(IdNumber.parse, "1101051949123١002X", "character set")  # Arabic-Indic digit


def test_id_number_rejects_an_impossible_birth_date() -> None:
    body = "110105" + "19491331" + "002"
    _rejects(IdNumber.parse, body + IdNumber.check_character(body), "birth date", "19491331")


def test_id_number_rejects_february_29_in_a_common_year() -> None:
    body = "110105" + "19490229" + "002"
    _rejects(IdNumber.parse, body + IdNumber.check_character(body), "birth date")


def test_id_number_rejects_a_future_birth_date() -> None:
    tomorrow = date.today() + timedelta(days=1)
    body = f"110105{tomorrow:%Y%m%d}002"
    _rejects(IdNumber.parse, body + IdNumber.check_character(body), "birth date", "future")


def test_id_number_rejects_a_birth_date_before_1800() -> None:
    body = "110105" + "17991231" + "002"
    _rejects(IdNumber.parse, body + IdNumber.check_character(body), "birth date", "1800")


def test_id_number_accepts_a_birth_date_of_today() -> None:
    built = IdNumber.build("110105", date.today(), 1)
    assert built.birth_date == date.today()


@pytest.mark.parametrize("value", ID_EXAMPLES)
def test_id_number_rejects_an_unknown_province_prefix(value: str) -> None:
    body = "99" + value[2:17]
    _rejects(IdNumber.parse, body + IdNumber.check_character(body), "division", repr(body[:6]))


def test_id_number_checks_run_in_the_documented_order() -> None:
    # Every check fails here; only the first in order may be reported.
    _rejects(IdNumber.parse, "99A1051949133100", "length")
    _rejects(IdNumber.parse, "99A10519491331002Y", "character set")
    _rejects(IdNumber.parse, "99010519491331002Y", "division")
    _rejects(IdNumber.parse, "11010519491331002Y", "birth date")


def test_id_number_properties_of_the_worked_examples() -> None:
    first, second = (IdNumber.parse(v) for v in ID_EXAMPLES)
    assert first.division_code == "110105"
    assert first.birth_date == date(1949, 12, 31)
    assert first.sequence == "002"
    assert first.gender == "female"
    assert second.division_code == "440524"
    assert second.birth_date == date(1880, 1, 1)
    assert second.sequence == "001"
    assert second.gender == "male"


def test_id_number_build_round_trips() -> None:
    built = IdNumber.build("440106", date(1990, 5, 17), 123)
    assert built.value == "440106199005171236"
    assert IdNumber.parse(built.value) == built
    assert (built.division_code, built.birth_date, built.sequence) == (
        "440106",
        date(1990, 5, 17),
        "123",
    )
    assert IdNumber.build("440106", date(1990, 5, 17), 7).sequence == "007"


def test_id_number_build_rejects_bad_parts() -> None:
    with pytest.raises(ValueError, match="sequence must be between 0 and 999"):
        IdNumber.build("440106", date(1990, 5, 17), 1000)
    with pytest.raises(InvalidIdentifierError, match="division code") as info:
        IdNumber.build("4401", date(1990, 5, 17), 1)
    assert info.value.check == "length"
    with pytest.raises(InvalidIdentifierError) as info:
        IdNumber.build("990106", date(1990, 5, 17), 1)
    assert info.value.check == "division"
    with pytest.raises(InvalidIdentifierError) as info:
        IdNumber.build("440106", date.today() + timedelta(days=1), 1)
    assert info.value.check == "birth date"


def test_id_number_check_character_rejects_a_wrong_length_body() -> None:
    with pytest.raises(ValueError, match="17 digits"):
        IdNumber.check_character("1101051949123100")


def test_id_number_direct_construction_validates() -> None:
    _rejects(IdNumber, "11010519491231002Y", "check character")
    # The constructor takes the normalised form only; parse does the normalising.
    _rejects(IdNumber, "11010519491231002x", "check character")
    _rejects(IdNumber, " 11010519491231002X", "length")
    with pytest.raises(TypeError, match="takes a str"):
        IdNumber(11010519491231002)  # type: ignore[arg-type]


def test_id_number_instances_are_frozen_and_replace_revalidates() -> None:
    parsed = IdNumber.parse(ID_EXAMPLES[0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.value = ID_EXAMPLES[1]  # type: ignore[misc]
    with pytest.raises(InvalidIdentifierError):
        dataclasses.replace(parsed, value="11010519491231002Y")
    assert dataclasses.replace(parsed, value=ID_EXAMPLES[1]).gender == "male"


# --- organisation code (GB 11714-1997) ------------------------------------------------------


def test_organisation_code_accepts_the_gb_11714_worked_example() -> None:
    parsed = OrganisationCode.parse(ORGANISATION_EXAMPLE)
    assert parsed.value == "D2143569X"
    assert str(parsed) == "D2143569X"
    assert OrganisationCode.parse("D2143569X") == parsed
    assert OrganisationCode.parse(" d2143569-x ") == parsed
    assert OrganisationCode.check_character("D2143569") == "X" == _gb11714("D2143569")


def test_organisation_code_rejects_wrong_check_character() -> None:
    for c in _substitutes("X"):
        _rejects(OrganisationCode.parse, "D2143569-" + c, "check character", repr(c.upper()))
        _rejects(OrganisationCode.parse, "D2143569" + c, "check character", repr(c.upper()))


def test_organisation_code_rejects_truncations_and_misplaced_hyphens() -> None:
    for end in range(9):
        _rejects(OrganisationCode.parse, "D2143569X"[:end], "length")
    _rejects(OrganisationCode.parse, "D214-3569X", "length")
    _rejects(OrganisationCode.parse, "D2143569--X", "length")
    _rejects(OrganisationCode.parse, "D214-569X", "character set", "'-'")


def test_organisation_code_rejects_symbols_in_the_body() -> None:
    for i in range(8):
        raw = "D2143569X"[:i] + "*" + "D2143569X"[i + 1 :]
        _rejects(OrganisationCode.parse, raw, "character set", f"character {i + 1}")


def test_organisation_code_direct_construction_validates() -> None:
    _rejects(OrganisationCode, "D2143569-X", "length")  # the hyphen is for parse only
    _rejects(OrganisationCode, "D2143569Y", "check character")
    assert OrganisationCode("D2143569X").value == "D2143569X"


def test_organisation_code_check_character_rejects_a_bad_body() -> None:
    with pytest.raises(ValueError, match="GB 11714"):
        OrganisationCode.check_character("D214356")
    with pytest.raises(ValueError, match="GB 11714"):
        OrganisationCode.check_character("D214356*")


# --- unified social credit code (GB 32100-2015) ---------------------------------------------


@pytest.mark.parametrize("value", CREDIT_EXAMPLES)
def test_credit_code_accepts_published_examples(value: str) -> None:
    parsed = CreditCode.parse(value)
    assert parsed.value == value
    assert CreditCode.check_character(value[:17]) == value[17] == _gb32100(value[:17])
    assert value[16] == _gb11714(value[8:16])
    assert CreditCode.parse(value.lower()) == parsed


def test_credit_code_properties_of_the_worked_example() -> None:
    parsed = CreditCode.parse(CREDIT_EXAMPLE)
    assert parsed.registration_authority == "9"
    assert parsed.category == "1"
    assert parsed.division_code == "350100"
    assert parsed.organisation_code == OrganisationCode("M000100Y4")


@pytest.mark.parametrize("value", CREDIT_EXAMPLES)
def test_credit_code_rejects_wrong_check_character(value: str) -> None:
    for c in _substitutes(value[17]):
        _rejects(CreditCode.parse, value[:17] + c, "check character", "GB 32100", repr(c.upper()))


@pytest.mark.parametrize("value", CREDIT_EXAMPLES)
def test_credit_code_rejects_truncations(value: str) -> None:
    for end in range(18):
        _rejects(CreditCode.parse, value[:end], "length")


@pytest.mark.parametrize("letter", "IOZSV")
def test_credit_code_rejects_letters_outside_its_alphabet(letter: str) -> None:
    for i in (0, 1, 8, 15):
        raw = CREDIT_EXAMPLE[:i] + letter + CREDIT_EXAMPLE[i + 1 :]
        _rejects(CreditCode.parse, raw, "character set", repr(letter), f"character {i + 1}")


def test_credit_code_rejects_an_unknown_province_prefix() -> None:
    body = "9199" + CREDIT_EXAMPLE[4:17]
    _rejects(CreditCode.parse, body + CreditCode.check_character(body), "division", "'990100'")


def test_credit_code_rejects_letters_in_the_division_code() -> None:
    body = "9135A1" + CREDIT_EXAMPLE[6:17]
    _rejects(CreditCode.parse, body + CreditCode.check_character(body), "division", "six digits")


def test_credit_code_rejects_a_corrupted_embedded_organisation_code() -> None:
    # Change the embedded organisation code's body but recompute the final check character,
    # so only the embedded GB 11714 check can fail.
    organisation_body = "N000100Y"
    assert OrganisationCode.check_character(organisation_body) != CREDIT_EXAMPLE[16]
    body = "91350100" + organisation_body + CREDIT_EXAMPLE[16]
    raw = body + CreditCode.check_character(body)
    err = _rejects(CreditCode.parse, raw, "check character", "organisation code", "GB 11714")
    assert "GB 32100" not in str(err)


def test_credit_code_rejects_the_unverified_candidate_example() -> None:
    # Offered as an example in the brief, but its embedded organisation code does not check.
    _rejects(CreditCode.parse, "91110000600037242A", "check character", "organisation code")


def test_credit_code_build_round_trips() -> None:
    built = CreditCode.build("9", "1", "440106", "MA5ELXQ2")
    assert CreditCode.parse(built.value) == built
    assert built.registration_authority == "9"
    assert built.category == "1"
    assert built.division_code == "440106"
    assert built.organisation_code.value[:8] == "MA5ELXQ2"
    assert built.organisation_code.value[8] == _gb11714("MA5ELXQ2")
    assert CreditCode.build("9", "1", "350100", "M000100Y").value == CREDIT_EXAMPLE


def test_credit_code_build_reports_bad_parts_as_the_constructor_would() -> None:
    with pytest.raises(InvalidIdentifierError) as info:
        CreditCode.build("9", "1", "440106", "MA5ELXQI")
    assert info.value.check == "character set"
    with pytest.raises(InvalidIdentifierError) as info:
        CreditCode.build("9", "1", "440106", "MA5ELXQ")
    assert info.value.check == "length"
    with pytest.raises(InvalidIdentifierError) as info:
        CreditCode.build("9", "1", "990106", "MA5ELXQ2")
    assert info.value.check == "division"


def test_credit_code_direct_construction_validates() -> None:
    _rejects(CreditCode, CREDIT_EXAMPLE[:17] + "4", "check character")
    _rejects(CreditCode, CREDIT_EXAMPLE.lower(), "character set")


# --- business registration number (GS 15-2006) ----------------------------------------------


def test_registration_number_accepts_the_gs_15_worked_example() -> None:
    parsed = RegistrationNumber.parse(REGISTRATION_EXAMPLE)
    assert parsed.value == REGISTRATION_EXAMPLE
    assert parsed.division_code == "110108"
    assert RegistrationNumber.check_digit(REGISTRATION_EXAMPLE[:14]) == "6"
    assert _gs15_accepts(REGISTRATION_EXAMPLE)


def test_registration_number_rejects_wrong_check_digit() -> None:
    for c in _substitutes("6"):
        raw = REGISTRATION_EXAMPLE[:14] + c
        _rejects(RegistrationNumber.parse, raw, "check character", "GS 15-2006")
        if c in string.digits:
            assert not _gs15_accepts(raw)


def test_registration_number_check_digit_agrees_with_the_standards_acceptance_rule() -> None:
    # Both directions: the computed digit satisfies the standard's rule, and no other does.
    rng = random.Random(15)
    for _ in range(2000):
        body = rng.choice(sorted(PROVINCES)) + "".join(rng.choices(string.digits, k=12))
        check = RegistrationNumber.check_digit(body)
        accepted = [d for d in string.digits if _gs15_accepts(body + d)]
        assert accepted == [check]
        assert RegistrationNumber.parse(body + check).value == body + check


def test_registration_number_rejects_length_character_set_and_division_errors() -> None:
    for end in range(15):
        _rejects(RegistrationNumber.parse, REGISTRATION_EXAMPLE[:end], "length")
    _rejects(RegistrationNumber.parse, "1101080000000I6", "character set", "'I'")
    body = "990108" + REGISTRATION_EXAMPLE[6:14]
    raw = body + RegistrationNumber.check_digit(body)
    _rejects(RegistrationNumber.parse, raw, "division", "'990108'")


def test_registration_number_check_digit_rejects_a_bad_body() -> None:
    with pytest.raises(ValueError, match="14 digits"):
        RegistrationNumber.check_digit("1101080000000")
    with pytest.raises(ValueError, match="MOD 11,10"):
        RegistrationNumber.check_digit("11010800000A01")


# --- cadastral parcel code ------------------------------------------------------------------


PARCEL_EXAMPLE = "440106001002GB00001"


def test_parcel_code_build_round_trips() -> None:
    built = ParcelCode.build("440106", 1, 2, "GB", 1)
    assert built.value == PARCEL_EXAMPLE
    assert ParcelCode.parse(built.value) == built
    assert built.division_code == "440106"
    assert built.feature_code == "GB"


def test_parcel_code_parse_uppercases_the_feature_code() -> None:
    assert ParcelCode.parse(" 440106001002gb00001 ").value == PARCEL_EXAMPLE


def test_parcel_code_rejects_length_and_character_set_errors() -> None:
    for end in range(19):
        _rejects(ParcelCode.parse, PARCEL_EXAMPLE[:end], "length")
    _rejects(ParcelCode.parse, "44010600100AGB00001", "character set", "character 12")
    _rejects(ParcelCode.parse, "4401060010021B00001", "character set", "character 13")
    _rejects(ParcelCode.parse, "440106001002GB0000A", "character set", "character 19")


def test_parcel_code_rejects_an_unknown_province_prefix() -> None:
    _rejects(ParcelCode.parse, "990106001002GB00001", "division")


@pytest.mark.parametrize(
    ("feature", "words"),
    [
        ("QB", ("'QB'", "G (state-owned)")),
        ("GQ", ("'GQ'", "land use right type")),
        ("JI", ("'JI'", "land use right type")),
    ],
)
def test_parcel_code_rejects_unknown_feature_codes(feature: str, words: tuple[str, ...]) -> None:
    _rejects(ParcelCode.parse, f"440106001002{feature}00001", "structure", *words)


def test_parcel_code_accepts_every_listed_feature_code() -> None:
    for ownership in "GJZ":
        for right in "ABSXCDEFHLNGWY":
            assert ParcelCode.build("440106", 0, 0, ownership + right, 99999).feature_code == (
                ownership + right
            )


def test_parcel_code_rejects_sequence_zero() -> None:
    _rejects(ParcelCode.parse, "440106001002GB00000", "structure", "parcel sequence")
    with pytest.raises(ValueError, match="sequence must be between 1 and 99999"):
        ParcelCode.build("440106", 1, 2, "GB", 0)


def test_parcel_code_build_rejects_out_of_range_parts() -> None:
    with pytest.raises(ValueError, match="zone must be between 0 and 999"):
        ParcelCode.build("440106", 1000, 2, "GB", 1)
    with pytest.raises(ValueError, match="subzone must be between 0 and 999"):
        ParcelCode.build("440106", 1, -1, "GB", 1)


def test_parcel_code_direct_construction_validates() -> None:
    _rejects(ParcelCode, "440106001002gb00001", "character set")


# --- licence number -------------------------------------------------------------------------


LICENSE_EXAMPLE = "BL-440106-2023-000001-6"


def test_license_number_build_round_trips() -> None:
    built = LicenseNumber.build("BL", "440106", 2023, 1)
    assert built.value == LICENSE_EXAMPLE
    assert built.value[-1] == _iso7064_mod11_2("440106" + "2023" + "000001")
    assert LicenseNumber.parse(built.value) == built
    assert (built.kind_code, built.kind, built.division_code, built.year) == (
        "BL",
        "business licence",
        "440106",
        2023,
    )


def test_license_number_builds_every_kind() -> None:
    for code, name in LICENSE_KINDS.items():
        assert LicenseNumber.build(code, "440106", 2020, 999999).kind == name


def test_license_number_parse_uppercases_the_kind_and_check_character() -> None:
    body = "fb-440106-2020-000003-"
    check = LicenseNumber.build("FB", "440106", 2020, 3).value[-1]
    assert LicenseNumber.parse(body + check.lower()).value == body.upper() + check


def test_license_number_rejects_wrong_check_character() -> None:
    for c in _substitutes("6"):
        raw = LICENSE_EXAMPLE[:22] + c
        _rejects(LicenseNumber.parse, raw, "check character", "MOD 11-2", repr(c.upper()))


def test_license_number_rejects_truncations() -> None:
    for end in range(23):
        _rejects(LicenseNumber.parse, LICENSE_EXAMPLE[:end], "length")


def test_license_number_rejects_misplaced_hyphens() -> None:
    _rejects(LicenseNumber.parse, "BL44-0106-2023-000001-6", "structure", "hyphen")
    _rejects(LicenseNumber.parse, "BL-440106-2023-00-001-6", "structure", "hyphen")
    _rejects(LicenseNumber.parse, "BL_440106_2023_000001_6", "structure", "hyphen")


def test_license_number_rejects_characters_outside_each_segments_set() -> None:
    _rejects(LicenseNumber.parse, "B1-440106-2023-000001-6", "character set", "letters")
    _rejects(LicenseNumber.parse, "BL-44O106-2023-000001-6", "character set", "'O'")
    _rejects(LicenseNumber.parse, "BL-440106-2023-00000l-6", "character set", "'L'")


def test_license_number_rejects_an_unknown_kind_and_lists_the_known_ones() -> None:
    err = _rejects(LicenseNumber.parse, "ZZ-440106-2023-000001-6", "structure", "'ZZ'")
    for code, name in LICENSE_KINDS.items():
        assert f"{code} ({name})" in str(err)


def test_license_number_rejects_an_unknown_province_prefix() -> None:
    _rejects(LicenseNumber.parse, "BL-990106-2023-000001-6", "division", "'990106'")


def test_license_number_rejects_years_outside_1949_to_this_year() -> None:
    next_year = date.today().year + 1
    for year in (1948, next_year):
        digits = f"440106{year}000001"
        raw = f"BL-440106-{year}-000001-{_iso7064_mod11_2(digits)}"
        _rejects(LicenseNumber.parse, raw, "structure", "issue year", str(year))
    assert LicenseNumber.build("BL", "440106", 1949, 1).year == 1949
    assert LicenseNumber.build("BL", "440106", next_year - 1, 1).year == next_year - 1


def test_license_number_build_rejects_bad_parts() -> None:
    with pytest.raises(ValueError, match="sequence must be between 0 and 999999"):
        LicenseNumber.build("BL", "440106", 2023, 1_000_000)
    with pytest.raises(InvalidIdentifierError) as info:
        LicenseNumber.build("ZZ", "440106", 2023, 1)
    assert info.value.check == "structure"
    with pytest.raises(InvalidIdentifierError) as info:
        LicenseNumber.build("BL", "44010", 2023, 1)
    assert info.value.kind == "division code"


# --- division code (GB/T 2260) --------------------------------------------------------------


def test_division_code_accepts_and_names_the_province() -> None:
    parsed = DivisionCode.parse(" 440106 ")
    assert parsed.value == "440106"
    assert parsed.province_code == "44"
    assert parsed.province == "广东省"
    assert DivisionCode("110105").province == "北京市"


def test_division_code_accepts_every_province_prefix_and_no_other() -> None:
    expected = {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37} | {
        41,
        42,
        43,
        44,
        45,
        46,
        50,
        51,
        52,
        53,
        54,
        61,
        62,
        63,
        64,
        65,
        71,
        81,
        82,
    }
    for prefix in range(100):
        raw = f"{prefix:02d}0100"
        if prefix in expected:
            assert DivisionCode.parse(raw).province_code == f"{prefix:02d}"
        else:
            _rejects(DivisionCode.parse, raw, "division", "province")


def test_division_code_rejects_length_and_character_set_errors() -> None:
    _rejects(DivisionCode.parse, "44010", "length")
    _rejects(DivisionCode.parse, "4401060", "length")
    _rejects(DivisionCode.parse, "4401a6", "character set", "'A'")


# --- properties over many generated identifiers --------------------------------------------
# hypothesis is not installed in the venv, so these use a seeded random.Random loop instead.


def _random_division(rng: random.Random) -> str:
    return rng.choice(sorted(PROVINCES)) + f"{rng.randrange(10_000):04d}"


def _assert_only_the_right_check_character_is_accepted(
    construct: Callable[[str], object], value: str
) -> None:
    for c in "0123456789X" + CREDIT_ALPHABET[10:]:
        if c == value[-1]:
            continue
        with pytest.raises(InvalidIdentifierError) as info:
            construct(value[:-1] + c)
        assert info.value.check == "check character"


def test_built_id_numbers_parse_and_reject_any_other_check_character() -> None:
    rng = random.Random(11643)
    earliest, span = date(1800, 1, 1).toordinal(), (date.today() - date(1800, 1, 1)).days
    for _ in range(1000):
        born = date.fromordinal(earliest + rng.randrange(span + 1))
        built = IdNumber.build(_random_division(rng), born, rng.randrange(1000))
        assert IdNumber.parse(built.value) == built
        assert built.birth_date == born
        assert built.value[17] == _iso7064_mod11_2(built.value[:17])
        _assert_only_the_right_check_character_is_accepted(IdNumber, built.value)


def test_built_credit_codes_parse_and_reject_any_other_check_character() -> None:
    rng = random.Random(32100)
    for _ in range(1000):
        authority, category = rng.choice(CREDIT_ALPHABET), rng.choice(CREDIT_ALPHABET)
        organisation_body = "".join(rng.choices(CREDIT_ALPHABET, k=8))
        built = CreditCode.build(authority, category, _random_division(rng), organisation_body)
        assert CreditCode.parse(built.value) == built
        assert built.value[17] == _gb32100(built.value[:17])
        assert built.organisation_code.value == organisation_body + _gb11714(organisation_body)
        _assert_only_the_right_check_character_is_accepted(CreditCode, built.value)


def test_organisation_codes_from_random_bodies_reject_any_other_check_character() -> None:
    rng = random.Random(11714)
    alphabet = string.digits + string.ascii_uppercase
    for _ in range(1000):
        body = "".join(rng.choices(alphabet, k=8))
        value = body + OrganisationCode.check_character(body)
        assert value[8] == _gb11714(body)
        assert OrganisationCode.parse(f"{body}-{value[8]}").value == value
        _assert_only_the_right_check_character_is_accepted(OrganisationCode, value)


def test_built_license_numbers_parse_and_reject_any_other_check_character() -> None:
    rng = random.Random(36904)
    kinds = sorted(LICENSE_KINDS)
    for _ in range(1000):
        year = rng.randint(1949, date.today().year)
        built = LicenseNumber.build(
            rng.choice(kinds), _random_division(rng), year, rng.randrange(1_000_000)
        )
        assert LicenseNumber.parse(built.value) == built
        assert built.year == year
        digits = built.value[3:9] + built.value[10:14] + built.value[15:21]
        assert built.value[-1] == _iso7064_mod11_2(digits)
        _assert_only_the_right_check_character_is_accepted(LicenseNumber, built.value)


def test_built_parcel_codes_parse() -> None:
    rng = random.Random(13923)
    for _ in range(1000):
        feature = rng.choice("GJZ") + rng.choice("ABSXCDEFHLNGWY")
        division = _random_division(rng)
        built = ParcelCode.build(
            division, rng.randrange(1000), rng.randrange(1000), feature, rng.randint(1, 99999)
        )
        assert ParcelCode.parse(built.value) == built
        assert (built.division_code, built.feature_code) == (division, feature)
