"""Grants that reveal more than they grant: the catalogue's acknowledgements and the warnings of
`govgate policy check` (policies/derivations.py), on the shipped catalogue and edited copies."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from policies.catalog import SHIPPED_CATALOG, parse_catalog
from policies.derivations import exposures
from policies.errors import CatalogError
from policies.explain import explain
from policies.grants import Policy
from policies.rules import load_rules
from tests.conftest import DAY

if TYPE_CHECKING:
    from pathlib import Path

    from policies.catalog import Catalog
    from policies.rules import AuthorRule

SHIPPED = SHIPPED_CATALOG.read_text("utf-8")
LICENCE_NUMBER_ACK = re.compile(
    r"(      licenseNumber:\n        sharing: unconditional\n        methods: \[query, verify\]\n)"
    r"        acknowledges:\n          License\.divisionCode: >-\n(?:            .*\n)+"
)


def without_licence_number_acknowledgement() -> str:
    text, count = LICENCE_NUMBER_ACK.subn(r"\1", SHIPPED)
    assert count == 1
    return text


#: The acknowledgement on LandParcel.certificateNumber, reason and all.
REGISTERED_ON_ACK = SHIPPED[
    SHIPPED.index("          LandParcel.registeredOn: >-\n") : SHIPPED.index(
        "      registeredOn: {"
    )
]


def warnings_of(
    catalog: Catalog, rules_text: str | None = None, tmp: Path | None = None
) -> list[str]:
    rules: tuple[AuthorRule, ...] = ()
    if rules_text is not None and tmp is not None:
        path = tmp / "rules.csv"
        path.write_text(rules_text, "utf-8")
        rules = load_rules(path, catalog)
    policy = Policy.build(catalog, rules, day=DAY)
    return [e.warning(catalog) for e in exposures(policy) if e.reason is None]


def test_the_shipped_catalogue_acknowledges_every_derivation_it_grants(policy: Policy) -> None:
    found = exposures(policy)
    assert [e for e in found if e.reason is None] == []
    # ...and there are some: ID numbers, licence numbers and parcel codes carry restricted data.
    pairs = {(e.agency, e.derivation.field, e.derivation.revealed) for e in found}
    assert ("GZ-AMR", "Person.idNumber", "Person.birthDate") in pairs
    assert ("GZ-TAX", "License.licenseNumber", "License.divisionCode") in pairs
    assert ("GZ-HPF", "LandParcel.certificateNumber", "LandParcel.registeredOn") in pairs
    # Only agencies that are not granted the revealed field are counted.
    assert ("GZ-PSB", "Person.idNumber", "Person.birthDate") not in pairs


def test_asking_the_enforcer_field_by_field_finds_the_same_as_precomputed_grants(
    policy: Policy,
) -> None:
    # `policy check` asks only the decisions it needs (precompute=False); same answer.
    lazy = Policy.load(policy.catalog, policy.compiled, day=DAY, precompute=False)
    assert exposures(lazy) == exposures(policy)


def test_an_unacknowledged_derivation_warns_for_each_agency_naming_both_fields_and_the_entry() -> (
    None
):
    catalog = parse_catalog(without_licence_number_acknowledgement(), name="edited.yaml")
    warnings = warnings_of(catalog)
    agencies = {re.search(r"warning: (\S+) reads", w).group(1) for w in warnings}  # type: ignore[union-attr]
    # Every agency reading licence numbers without License.divisionCode, and no other.
    assert agencies == {"GZ-PNR", "GZ-HRSS", "GZ-TAX", "GZ-HEALTH", "GZ-HPF", "PY-TAX", "HZ-HRSS"}
    tax = next(w for w in warnings if "warning: GZ-TAX" in w)
    line = catalog.dataset("electronic-licences").fields[0].line
    assert tax.startswith(f"edited.yaml:{line}: datasets.electronic-licences.fields.licenseNumber:")
    assert (
        "GZ-TAX reads License.licenseNumber (dataset electronic-licences, shared unconditionally) "
        "but is not granted License.divisionCode, which License.licenseNumber reveals: "
        "characters 4-9 are the division code." in tax
    )
    assert "Grant License.divisionCode to a duty GZ-TAX holds, or acknowledge it" in tax
    assert "`acknowledges: {License.divisionCode: <why it is accepted>}`" in tax


def test_a_warning_names_the_duty_that_grants_the_revealing_field() -> None:
    text = SHIPPED.replace("        acknowledges:\n" + REGISTERED_ON_ACK, "")
    assert text != SHIPPED
    [warning] = warnings_of(parse_catalog(text, name="edited.yaml"))
    assert (
        "GZ-HPF reads LandParcel.certificateNumber (dataset land-parcels, through its duty "
        "housing-provident-fund) but is not granted LandParcel.registeredOn, part of which "
        "LandParcel.certificateNumber reveals" in warning
    )


def test_a_field_granted_by_an_author_rule_warns_naming_the_rule(
    catalog: Catalog, tmp_path: Path
) -> None:
    # The water company, a utility, is granted no unconditional field; a rule lets it read
    # licence numbers. Their division is acknowledged in the catalogue (for every reader), but
    # their kind code and year are not.
    rules = "p, GZ-WATER, License.licenseNumber, query, allow, *, pilot of account transfers\n"
    warnings = warnings_of(catalog, rules, tmp_path)
    assert len(warnings) == 2, warnings
    assert all("GZ-WATER reads License.licenseNumber (by author rule rules.csv:1)" in w
               for w in warnings)  # fmt: skip
    assert {re.search(r"not granted (\S+),", w).group(1) for w in warnings} == {  # type: ignore[union-attr]
        "License.kind", "License.issuedOn",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "          License.divisionCode: >-\n",
            "          License.validUntil: >-\n",
            r"datasets\[6\]\.fields\.licenseNumber\.acknowledges\.License\.validUntil: the field "
            r"inventory does not say License\.licenseNumber reveals License\.validUntil \(it "
            r"reveals License\.kind, License\.divisionCode, License\.issuedOn\)",
        ),
        (
            "          License.divisionCode: >-\n",
            "          license-division: >-\n",
            r"'license-division' is not valid here: name the revealed field as Type\.field",
        ),
        (
            "      phone:\n        sharing: conditional\n"
            "        duties: [social-insurance, housing-provident-fund, government-services]\n"
            "        methods: [verify]\n",
            "      phone:\n        sharing: conditional\n"
            "        duties: [social-insurance, housing-provident-fund, government-services]\n"
            "        methods: [verify]\n        acknowledges: {Person.gender: because}\n",
            r"this entry lets no one read Person\.phone \(not shareable, or verify only\)",
        ),
        (
            REGISTERED_ON_ACK,
            "          LandParcel.registeredOn: ' '\n",
            r"say why readers of LandParcel\.certificateNumber may learn LandParcel\.registeredOn",
        ),
    ],
)
def test_an_acknowledgement_must_name_a_declared_derivation_with_a_reason(
    old: str, new: str, message: str
) -> None:
    assert old in SHIPPED
    with pytest.raises(CatalogError) as caught:
        parse_catalog(SHIPPED.replace(old, new, 1), name="edited.yaml")
    problems = [str(p) for p in caught.value.problems]
    assert len(problems) == 1, problems
    assert re.search(message, problems[0]), problems[0]


def test_explain_names_the_granted_fields_that_reveal_a_denied_one(policy: Policy) -> None:
    denied = explain(policy, "GZ-AMR", "Person.birthDate")
    assert denied.allowed is False
    assert [line.split(",")[0] for line in denied.revealed_by] == [
        "Person.idNumber", "LegalEntity.legalRepresentative", "License.holderId",
    ]  # fmt: skip
    assert "characters 7-14 are the date of birth" in denied.revealed_by[0]
    assert "acknowledged in the catalogue: Art. 16 keys natural persons" in denied.revealed_by[0]
    # Nothing the agency reads carries religion; and an allowed field needs no such note.
    assert explain(policy, "GZ-AMR", "Person.religion").revealed_by == ()
    assert explain(policy, "GZ-PSB", "Person.birthDate").revealed_by == ()
