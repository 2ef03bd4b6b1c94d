"""Compiling the catalogue into Casbin files, and merging the author rules."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING

import casbin
import pytest

from policies.catalog import SHIPPED_CATALOG
from policies.compiler import MODEL, CompiledPolicy, compile_policy, write_policy
from policies.enforcer import build_enforcer
from policies.errors import PolicyError, RulesError
from policies.grants import Policy
from policies.rules import parse_rules
from sources.inventory import field_names
from tests.conftest import DAY

if TYPE_CHECKING:
    from pathlib import Path

    from policies.catalog import Catalog
    from policies.rules import AuthorRule

TODAY = DAY.isoformat()


def test_the_same_catalogue_compiles_to_byte_identical_files(
    catalog: Catalog, rules: tuple[AuthorRule, ...], tmp_path: Path
) -> None:
    first = write_policy(compile_policy(catalog, rules), tmp_path / "a")
    second = write_policy(compile_policy(catalog, rules), tmp_path / "b")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    assert [p.name for p in first] == ["model.conf", "policy.csv"]


def test_every_rule_traces_back_to_a_catalogue_entry_or_author_rule(
    catalog: Catalog, rules: tuple[AuthorRule, ...]
) -> None:
    policy_text = compile_policy(catalog, rules).policy
    tags = {s.source_tag for d in catalog.datasets for s in d.fields}
    tags |= {r.source_tag for r in rules}
    tags |= {"catalog:administrator", "catalog:regional_scope/city",
             "catalog:regional_scope/district"}  # fmt: skip
    lines = [line for line in policy_text.splitlines() if line.startswith("p, ")]
    assert lines
    for line in lines:
        assert line.split(", ")[-1] in tags, line
    for dataset in catalog.datasets:
        assert f"# == Dataset {dataset.id} {dataset.name}: provided by {dataset.provider}" in (
            policy_text
        )


def test_the_compiled_files_load_in_pycasbin_from_disk_with_the_same_decisions(
    catalog: Catalog, rules: tuple[AuthorRule, ...], policy: Policy, tmp_path: Path
) -> None:
    model, policy_csv = write_policy(compile_policy(catalog, rules), tmp_path)
    from_files = casbin.Enforcer(str(model), str(policy_csv))
    for agency in catalog.agencies:
        for ref in field_names():
            for method in ("query", "verify"):
                request = (agency.code, ref, method, TODAY)
                assert from_files.enforce(*request) == policy.enforcer.enforce(*request)


def test_default_deny_an_agency_without_duties_gets_nothing_conditional(
    catalog: Catalog,
) -> None:
    lonely = replace(catalog.agency("GZ-HEALTH"), code="GZ-NEW", duties=())
    bigger = replace(catalog, agencies=(*catalog.agencies, lonely))
    grants = Policy.build(bigger, day=DAY).grants_for("GZ-NEW")
    unconditional = {
        s.ref
        for d in catalog.datasets
        for s in d.fields
        if s.sharing == "unconditional" and "query" in s.methods
    }
    assert grants.readable == unconditional


def test_deny_overrides_allow_for_the_author_rule_on_one_agency_and_field(
    policy: Policy,
) -> None:
    # The catalogue grants maritalStatus to the housing-provident-fund duty; the author rule
    # denies GZ-HPF alone.
    assert not policy.decide("GZ-HPF", "Person.maritalStatus", "query")
    assert not policy.decide("GZ-HPF", "Person.maritalStatus", "verify")
    assert policy.decide("GZ-HPF", "Person.gender", "query")
    assert policy.decide("GZ-PSB", "Person.maritalStatus", "query")


def test_a_temporary_grant_ends_after_its_last_day(policy: Policy) -> None:
    assert policy.decide("TH-CA", "Person.education", "query")
    enforcer = policy.enforcer
    assert enforcer.enforce("TH-CA", "Person.education", "query", "2026-12-31")
    assert not enforcer.enforce("TH-CA", "Person.education", "query", "2027-01-01")
    assert not enforcer.enforce("GZ-CA", "Person.education", "query", "2026-12-31")


def test_author_rules_are_checked_against_the_catalogue_and_every_problem_is_listed(
    catalog: Catalog,
) -> None:
    text = "\n".join(
        [
            "# comment lines are skipped",
            "p, GZ-PSX, Person.name, *, deny, *, typo in agency",
            "p, GZ-PSB, Person.shoeSize, *, deny, *, no such field",
            "p, GZ-PSB, Person.religion, query, allow, *, not shareable",
            "p, GZ-PSB, Person.classifiedPost, query, allow, *, secret",
            "g, GZ-WATER, duty:civil-affairs",
            "p, GZ-PSB, Person.name, *, deny, 2026-13-01, bad date",
            "p, GZ-PSB, Person.name, *, deny, *, a note, with a comma",
            "p, duty:no-such-duty, Person.name, *, deny, *, unknown duty",
            "p, GZ-PSB, Person.*, query, allow, *, wildcard grant",
            "p, GZ-PSB, Person, query, allow, *, a type needs a scope action",
            "p, GZ-PSB, Person.name, read, allow, *, unknown action",
            "p, GZ-PSB, Person.name, query, permit, *, unknown effect",
            "p, GZ-PSB, Person.name, *, deny, *,",
        ]
    )
    with pytest.raises(RulesError) as caught:
        parse_rules(text, catalog, name="extra.rules.csv")
    messages = {p.line or 0: p.message for p in caught.value.problems}
    assert sorted(messages) == list(range(2, 15))
    assert messages[2].startswith("unknown agency 'GZ-PSX'; did you mean 'GZ-PSB'?")
    assert messages[3].startswith("unknown Person field 'shoeSize'")
    assert messages[4] == "Person.religion is not shareable (the catalogue); no rule can grant it"
    assert "Art. 16" in messages[5]
    assert "change the agency's duties in the catalogue" in messages[6]
    assert "not '2026-13-01'" in messages[7]
    assert "7 columns" in messages[8]
    assert messages[9].startswith("unknown duty 'no-such-duty'")
    assert "grant fields one by one" in messages[10]
    assert "scope:city or scope:division" in messages[11]
    assert "unknown action 'read'" in messages[12]
    assert "allow or deny" in messages[13]
    assert "needs a note" in messages[14]
    assert str(caught.value).startswith("The author rules file has 13 problems")


def test_the_shipped_rules_file_sits_beside_the_catalogue(rules: tuple[AuthorRule, ...]) -> None:
    assert {r.file for r in rules} == {str(SHIPPED_CATALOG.with_name("guangzhou.rules.csv"))}
    assert {(r.subject, r.effect) for r in rules} == {("GZ-HPF", "deny"), ("TH-CA", "allow")}
    assert all(re.fullmatch(r"rules:guangzhou\.rules\.csv:\d+", r.source_tag) for r in rules)
    assert date.fromisoformat(next(r.until for r in rules if r.effect == "allow")) > DAY


def test_the_compiler_refuses_a_rule_column_that_casbin_would_split(catalog: Catalog) -> None:
    # Validation keeps such names out; this is the compiler's own last line of defence.
    forged = replace(catalog.agency("GZ-WATER"), code="GZ-WATER, role:administrator")
    with pytest.raises(PolicyError, match="Refusing to compile the rule column"):
        compile_policy(replace(catalog, agencies=(*catalog.agencies, forged)))


def test_comments_stay_one_line_whatever_a_name_holds(catalog: Catalog) -> None:
    renamed = replace(
        catalog.agency("GZ-WATER"), name="自来水\u2028g, GZ-WATER, role:administrator"
    )
    text = compile_policy(replace(catalog, agencies=(*catalog.agencies[:-1], renamed))).policy
    assert "\u2028" not in text
    enforcer = build_enforcer(CompiledPolicy(MODEL, text))
    assert not enforcer.enforce("GZ-WATER", "platform", "administer", TODAY)


def test_author_rules_tolerate_a_bom_and_count_lines_as_an_editor_does(catalog: Catalog) -> None:
    text = "\ufeff# rules\r\n\r\np, GZ-PSB, Person.name, *, deny, *, ticket 1\r\n"
    (rule,) = parse_rules(text, catalog, name="ok.rules.csv")
    assert rule.line == 3


def test_a_rule_cannot_hide_inside_a_comment_behind_a_line_separator(catalog: Catalog) -> None:
    text = "# reviewed\x1cp, TH-CA, Person.phone, query, allow, *, hidden\np, GZ-PSB, x\n"
    with pytest.raises(RulesError) as caught:
        parse_rules(text, catalog, name="sneaky.rules.csv")
    problems = [(p.line, p.message) for p in caught.value.problems]
    assert problems[0] == (1, "contains the control or line-break character U+001C; remove it")
    assert problems[1][0] == 2


def test_a_deny_on_query_alone_is_refused_because_verify_would_still_read(
    catalog: Catalog,
) -> None:
    with pytest.raises(RulesError, match="a deny on query alone leaves verify open"):
        parse_rules("p, GZ-HPF, Person.maritalStatus, query, deny, *, x\n", catalog, name="r.csv")
    (rule,) = parse_rules("p, GZ-HPF, Person.maritalStatus, verify, deny, *, x\n", catalog,
                          name="r.csv")  # fmt: skip
    assert rule.action == "verify"


def test_every_problem_of_one_rule_line_is_reported(catalog: Catalog) -> None:
    text = "p, GZ-PSX, Person.religion, query, allow, 2026-13-01, note\n"
    with pytest.raises(RulesError) as caught:
        parse_rules(text, catalog, name="many.rules.csv")
    messages = [p.message for p in caught.value.problems]
    assert len(messages) == 3
    assert messages[0].startswith("unknown agency 'GZ-PSX'")
    assert messages[1].startswith("Person.religion is not shareable")
    assert messages[2].startswith("until is * or a date")


def test_a_rules_file_name_that_would_break_the_source_tag_is_refused(catalog: Catalog) -> None:
    with pytest.raises(RulesError, match="use only letters, digits"):
        parse_rules("p, GZ-PSB, Person.name, *, deny, *, x\n", catalog, name="a,b).csv")


def test_a_policy_compiled_from_another_catalogue_version_is_refused(
    catalog: Catalog, rules: tuple[AuthorRule, ...]
) -> None:
    compiled = compile_policy(replace(catalog, version="2025.01"), rules)
    with pytest.raises(PolicyError, match=r"compiled from catalogue version 2025\.01.*again"):
        Policy.load(catalog, compiled, day=DAY)


def test_files_that_casbin_cannot_load_give_a_sentence_not_a_crash() -> None:
    with pytest.raises(PolicyError, match="cannot be loaded by Casbin"):
        build_enforcer(CompiledPolicy("[request_definition]\nr = sub\n", "p, a\n"))
