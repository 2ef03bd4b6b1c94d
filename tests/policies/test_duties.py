"""Duty views (Art. 18, 21, 34(4)): what an agency may use under one of its duties, decided by
the enforcer at load, never wider than without a duty, with author rules still in force."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from policies.catalog import SHIPPED_CATALOG, parse_catalog
from policies.compiler import compile_policy
from policies.duties import check_duty, duty_view
from policies.errors import CatalogError, DutyNotHeldError, DutyRequiredError
from policies.grants import Policy, RowScope
from policies.rules import parse_rules
from sources.inventory import SOURCES, field_names
from tests.conftest import DAY

if TYPE_CHECKING:
    from policies.catalog import Catalog
    from policies.rules import AuthorRule


def shipped_text() -> str:
    return SHIPPED_CATALOG.read_text("utf-8")


def test_every_duty_view_equals_the_enforcer_on_the_view_within_the_agencys_grants(
    policy: Policy,
) -> None:
    day = DAY.isoformat()
    for agency in policy.catalog.agencies:
        union = policy.grants_for(agency.code)
        for duty in agency.duties:
            view = policy.grants_for(agency.code, duty)
            enforcer = policy.duty_enforcer(agency.code, duty)
            assert view.duty == duty
            for ref in field_names():
                for method in ("query", "verify"):
                    expected = union.can(method, ref) and bool(
                        enforcer.enforce(agency.code, ref, method, day)
                    )
                    assert view.can(method, ref) is expected, (agency.code, duty, ref, method)
            for source in SOURCES.values():
                assert view.scopes[source.entity] == union.scopes[source.entity]


def test_a_duty_view_keeps_only_what_that_duty_and_unconditional_sharing_grant(
    policy: Policy,
) -> None:
    union = policy.grants_for("GZ-PSB")
    traffic = policy.grants_for("GZ-PSB", "traffic-management")
    assert union.can("query", "Person.phone")  # through household-registration, public-security
    assert not traffic.can("query", "Person.phone")
    assert traffic.can("query", "Person.name")  # unconditional: every duty keeps it
    assert traffic.can("query", "License.holderId")  # traffic-management's own grant
    assert traffic.readable < union.readable
    assert policy.grants_for("GZ-PSB", "public-security").readable == union.readable


def test_the_view_policy_drops_only_the_agencys_other_duty_links(catalog: Catalog) -> None:
    compiled = compile_policy(catalog)
    view = duty_view(compiled, "GZ-PSB", "public-security")
    dropped = set(compiled.policy.split("\n")) - set(view.policy.split("\n"))
    assert dropped == {"g, GZ-PSB, duty:household-registration",
                       "g, GZ-PSB, duty:traffic-management"}  # fmt: skip
    assert view.model == compiled.model
    assert duty_view(compiled, "TH-CA", "civil-affairs") == compiled  # its only duty


def test_an_author_deny_on_the_agency_holds_under_every_duty(policy: Policy) -> None:
    # The shipped rule denies GZ-HPF marital status, which its duty is granted.
    view = policy.grants_for("GZ-HPF", "housing-provident-fund")
    assert not view.can("query", "Person.maritalStatus")
    assert not view.can("verify", "Person.maritalStatus")


def test_a_temporary_author_grant_to_the_agency_holds_under_its_duty(policy: Policy) -> None:
    assert policy.grants_for("TH-CA", "civil-affairs").can("query", "Person.education")


def test_naming_a_duty_never_widens_even_past_a_deny_on_another_duty(
    catalog: Catalog, rules: tuple[AuthorRule, ...]
) -> None:
    # A deny on traffic-management reaches GZ-PSB through that duty. Under public-security
    # Casbin alone would allow the field (the traffic link is gone from the view); the view
    # must not, or naming a duty would read what the agency may not.
    extra = parse_rules("p, duty:traffic-management, Person.birthDate, *, deny, *, review 7",
                        catalog, name="extra.rules.csv")  # fmt: skip
    policy = Policy.build(catalog, (*rules, *extra), day=DAY)
    view_enforcer = policy.duty_enforcer("GZ-PSB", "public-security")
    assert view_enforcer.enforce("GZ-PSB", "Person.birthDate", "query", DAY.isoformat())
    assert not policy.grants_for("GZ-PSB").can("query", "Person.birthDate")
    assert not policy.grants_for("GZ-PSB", "public-security").can("query", "Person.birthDate")


def test_a_district_agencys_duty_keeps_its_row_scope(policy: Policy) -> None:
    view = policy.grants_for("YX-AMR", "administrative-licensing")
    assert view.scopes["LegalEntity"] == RowScope("division", "440104")
    assert not view.can("query", "LegalEntity.updatedAt")  # market-supervision's alone
    assert policy.grants_for("YX-AMR").can("query", "LegalEntity.updatedAt")


def test_a_narrower_scope_for_the_duty_wins_and_a_wider_one_does_not(
    catalog: Catalog, rules: tuple[AuthorRule, ...]
) -> None:
    extra = parse_rules(
        "p, duty:urban-planning, LandParcel, scope:city, deny, *, planning sees no parcel rows\n"
        "p, duty:civil-affairs, Person, scope:city, allow, *, would widen TH-CA",
        catalog, name="extra.rules.csv",
    )  # fmt: skip
    policy = Policy.build(catalog, (*rules, *extra), day=DAY)
    # GZ-PNR under land-administration: the deny on urban-planning is gone from its view, but
    # the agency as a whole is denied, and a duty never widens.
    assert policy.grants_for("GZ-PNR").scopes["LandParcel"].kind != "city"
    assert policy.grants_for("GZ-PNR", "land-administration").scopes["LandParcel"].kind != "city"
    # TH-CA is widened to the city by the rule on its only duty: with or without naming it.
    assert policy.grants_for("TH-CA", "civil-affairs").scopes["Person"] == RowScope("city")


def test_duty_views_travel_with_the_published_grants(policy: Policy) -> None:
    decided = json.loads(json.dumps(policy.grants_json()))
    adopted = Policy.with_grants(policy.catalog, policy.compiled, DAY, decided)
    assert adopted.duty_grants == policy.duty_grants
    older = {k: v for k, v in decided.items() if k != "duties"}  # published before duty views
    assert Policy.with_grants(policy.catalog, policy.compiled, DAY, older).duty_grants == (
        policy.duty_grants
    )


def test_a_duty_the_agency_does_not_hold_is_refused_naming_its_duties(catalog: Catalog) -> None:
    with pytest.raises(DutyNotHeldError) as held:
        check_duty(catalog, "TH-CA", "taxation")
    assert "TH-CA does not hold the duty 'taxation'" in str(held.value)
    assert "civil-affairs (民政管理)" in str(held.value)
    assert held.value.held == (("civil-affairs", "民政管理"),)
    with pytest.raises(DutyNotHeldError, match="'tax' is not a duty in the sharing catalogue"):
        check_duty(catalog, "TH-CA", "tax")
    with pytest.raises(DutyNotHeldError, match="not a duty id") as garbage:
        check_duty(catalog, "TH-CA", "civil-affairs, taxation")
    assert "civil-affairs, taxation" not in str(garbage.value)
    assert check_duty(catalog, "TH-CA", None) is None  # the shipped catalogue requires none


def test_require_duty_at_the_top_or_per_agency(catalog: Catalog) -> None:
    text = shipped_text().replace('version: "2026.11"', 'version: "2026.11"\nrequire_duty: true')
    water = "kind: utility,\n     duties: [water-supply]"
    text = text.replace(water + "}", water + ", require_duty: false}")
    required = parse_catalog(text, name="required.yaml")
    assert required.duty_required("TH-CA")
    assert not required.duty_required("GZ-WATER")
    with pytest.raises(DutyRequiredError) as missing:
        check_duty(required, "TH-CA", None)
    assert "must name the duty this request serves" in str(missing.value)
    assert "'Govgate-Duty: <duty id>'" in str(missing.value)
    assert check_duty(required, "TH-CA", "civil-affairs") == "civil-affairs"
    assert check_duty(required, "GZ-WATER", None) is None
    # The requirement is part of what is served: it changes the compiled policy's version.
    compiled = compile_policy(required)
    assert "# TH-CA 广州市天河区民政局 (district 440106, administrative; must name its duty)" in (
        compiled.policy
    )
    assert compiled.version != compile_policy(catalog).version


def test_an_agency_that_must_name_a_duty_but_holds_none_is_refused() -> None:
    text = shipped_text().replace(
        "kind: utility,\n     duties: [water-supply]}",
        "kind: utility,\n     duties: [], require_duty: true}",
    )
    with pytest.raises(CatalogError, match="holds no duty, so it could never be answered"):
        parse_catalog(text, name="none.yaml")
