"""An approval becomes author rules that the shipped catalogue accepts and Casbin applies."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from gateway.workflows import grant_rules, with_grant_rules
from policies.catalog import SHIPPED_CATALOG
from policies.compiler import compile_policy
from policies.grants import Policy
from policies.rules import default_rules_path, parse_rules

if TYPE_CHECKING:
    from policies.catalog import Catalog
    from policies.rules import AuthorRule

SHIPPED_RULES = default_rules_path(SHIPPED_CATALOG).read_text("utf-8")


def lines(until: date | None = date(2026, 12, 31)) -> tuple[str, ...]:
    return grant_rules(
        agency="TH-CA",
        duty="civil-affairs",
        fields=("Person.phone",),
        case_id="AR-0A1B2C3D4E",
        reference="GZ-GOV-2026-88",
        until=until,
    )


def policy(catalog: Catalog, rules: tuple[AuthorRule, ...], day: date) -> Policy:
    """The policy these rules make, deciding agencies' grants only when asked (fast)."""
    return Policy.load(catalog, compile_policy(catalog, rules), day=day, precompute=False)


def test_the_approved_rules_compile_and_grant_the_field_to_that_agency_only(
    catalog: Catalog,
) -> None:
    text = with_grant_rules(SHIPPED_RULES, lines(), case_id="AR-0A1B2C3D4E", at="2026-09-29")
    rules = parse_rules(text, catalog, name="guangzhou.rules.csv")
    added = rules[-1]
    assert (added.subject, added.object, added.action, added.effect, added.until) == (
        "TH-CA", "Person.phone", "query", "allow", "2026-12-31"
    )  # fmt: skip
    assert "GZ-GOV-2026-88" in added.note
    assert "AR-0A1B2C3D4E" in added.note
    shipped = parse_rules(SHIPPED_RULES, catalog, name="guangzhou.rules.csv")
    before = policy(catalog, shipped, date(2026, 11, 26))
    after = policy(catalog, rules, date(2026, 11, 26))
    assert not before.grants_for("TH-CA").can("query", "Person.phone")
    assert after.grants_for("TH-CA").can("query", "Person.phone")
    # Another civil-affairs agency gains nothing: the subject is the agency, not the duty.
    assert not after.grants_for("GZ-CA").can("query", "Person.phone")
    # A time-limited grant ends by itself.
    later = policy(catalog, rules, date(2027, 1, 1))
    assert not later.grants_for("TH-CA").can("query", "Person.phone")


def test_adding_the_same_rules_twice_changes_nothing_and_no_file_yet_works(
    catalog: Catalog,
) -> None:
    once = with_grant_rules(SHIPPED_RULES, lines(None), case_id="AR-0A1B2C3D4E", at="t")
    assert with_grant_rules(once, lines(None), case_id="AR-0A1B2C3D4E", at="t") == once
    assert once.startswith(SHIPPED_RULES)
    fresh = with_grant_rules(None, lines(None), case_id="AR-0A1B2C3D4E", at="t")
    assert fresh.startswith("# Access request AR-0A1B2C3D4E")
    assert parse_rules(fresh, catalog, name="new.rules.csv")[0].until == "*"
