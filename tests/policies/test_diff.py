"""Catalogue diffs (Art. 9): grants added and removed per agency and duty, by what the enforcer
decides, and the catalogue entries that changed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from policies.catalog import SHIPPED_CATALOG, parse_catalog
from policies.diff import DutyChange, GrantChange, ScopeChange, diff_policies
from policies.grants import Policy, RowScope
from policies.rules import parse_rules
from tests.conftest import DAY

if TYPE_CHECKING:
    from policies.catalog import Catalog
    from policies.rules import AuthorRule

PHONE = "phone: {sharing: conditional, duties: [household-registration, public-security]}"


def edited(*changes: tuple[str, str]) -> Catalog:
    text = SHIPPED_CATALOG.read_text("utf-8")
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    return parse_catalog(text, name="edited.yaml")


def build(catalog: Catalog, rules: tuple[AuthorRule, ...]) -> Policy:
    return Policy.build(catalog, rules, day=DAY)


def test_the_same_catalogue_changes_nothing(policy: Policy, rules: tuple[AuthorRule, ...]) -> None:
    reworded = edited(('version: "2026.11"', 'version: "2026.12"'),
                      ("name: 婚姻登记信息", "name: 婚姻登记"))  # fmt: skip
    diff = diff_policies(policy, build(reworded, rules))
    assert (diff.grants, diff.scopes, diff.duties, diff.catalog) == ((), (), (), ())
    assert diff.old_version != diff.new_version


def test_a_grant_moved_between_duties_lists_removals_and_additions_per_agency(
    policy: Policy, rules: tuple[AuthorRule, ...]
) -> None:
    moved = edited((PHONE, "phone: {sharing: conditional, duties: [household-registration, "
                           "civil-affairs]}"))  # fmt: skip
    diff = diff_policies(policy, build(moved, rules))
    assert set(diff.additions) == {
        GrantChange("GZ-CA", None, "query", "Person.phone", added=True),
        GrantChange("TH-CA", None, "query", "Person.phone", added=True),
    }
    # GZ-PSB keeps phone through household-registration: only its public-security view loses it.
    assert diff.reductions == (
        GrantChange("GZ-PSB", "public-security", "query", "Person.phone", added=False),
    )
    assert diff.reductions[0].describe() == (
        "GZ-PSB under its duty public-security may no longer query Person.phone"
    )


def test_a_field_taken_from_a_duty_is_removed_from_each_agency_that_loses_it(
    policy: Policy, rules: tuple[AuthorRule, ...]
) -> None:
    narrower = edited((
        "duties: [civil-affairs, household-registration, public-security, housing-provident-fund]",
        "duties: [household-registration, public-security, housing-provident-fund]",
    ))  # fmt: skip
    reductions = diff_policies(policy, build(narrower, rules)).reductions
    assert all(isinstance(c, GrantChange) for c in reductions)
    removed = {(c.agency, c.duty, c.method, c.field)
               for c in reductions if isinstance(c, GrantChange)}  # fmt: skip
    assert removed == {
        (agency, None, method, "Person.maritalStatus")
        for agency in ("GZ-CA", "TH-CA") for method in ("query", "verify")
    }  # fmt: skip


def test_an_author_deny_is_a_removal_and_scopes_and_duties_are_compared(
    policy: Policy, catalog: Catalog, rules: tuple[AuthorRule, ...]
) -> None:
    deny = parse_rules("p, PY-TAX, LandParcel, scope:division, deny, *, audit 12",
                       catalog, name="more.rules.csv")  # fmt: skip
    fewer_duties = edited(("duties: [household-registration, public-security, traffic-management]",
                           "duties: [household-registration, public-security]"))  # fmt: skip
    diff = diff_policies(policy, build(fewer_duties, (*rules, *deny)))
    assert ScopeChange("PY-TAX", None, "LandParcel", RowScope("division", "440113"),
                       RowScope("none")) in diff.reductions  # fmt: skip
    assert DutyChange("GZ-PSB", "traffic-management", added=False) in diff.reductions
    assert all(c.reduction for c in diff.reductions)
    assert not diff.additions


def test_datasets_fields_and_frequencies_are_listed(
    policy: Policy, rules: tuple[AuthorRule, ...]
) -> None:
    changed = edited(
        ("frequency: quarterly", "frequency: within 30 days"),
        ("      area: {sharing: conditional, duties: [land-administration, urban-planning, "
         "taxation, construction-management]}\n", ""),
    )  # fmt: skip
    described = [c.describe() for c in diff_policies(policy, build(changed, rules)).catalog]
    assert described == [
        "field removed: land-use-survey/area",
        "frequency changed: land-use-survey: quarterly -> within 30 days",
    ]


def test_policies_decided_on_different_days_are_not_compared(
    policy: Policy, catalog: Catalog, rules: tuple[AuthorRule, ...]
) -> None:
    other = Policy.build(catalog, rules, day=DAY.replace(year=2027))
    with pytest.raises(ValueError, match="different days"):
        diff_policies(policy, other)
