"""The fuzz tests' own checks catch what they are there to catch (a fuzzer whose oracle never
fires proves nothing): a field outside the grants, another district's record, a key never
asked for, Python's internals in an answer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.fuzz.harness import leaks
from tests.fuzz.oracle import check_answer

if TYPE_CHECKING:
    from tests.fuzz.conftest import Fuzzed

QUERY = """query Q($skip: Boolean!) {
  people: persons(first: 2) { edges { node { ...P who: name } } }
}
fragment P on Person { idNumber phone: name divisionCode @skip(if: $skip) }"""


def _problems(fuzzed: Fuzzed, agency: str, node: dict[str, Any], query: str = QUERY) -> list[str]:
    view = fuzzed.views[agency]
    answer = {"data": {"people": {"edges": [{"node": node}]}}}
    return check_answer(schema=view.schema, grants=view.grants, divisions=fuzzed.divisions,
                        query=query, operation_name="Q", variables={"skip": False},
                        answer=answer)  # fmt: skip


def test_an_answer_within_the_grants_and_the_district_passes(fuzzed: Fuzzed) -> None:
    key = fuzzed.divisions.keys("Person", "440106")[0]
    node = {"idNumber": key, "phone": "某", "who": "某", "divisionCode": "440106"}
    assert _problems(fuzzed, "TH-CA", node) == []


def test_a_field_outside_the_grants_is_caught_even_behind_an_alias(fuzzed: Fuzzed) -> None:
    key = fuzzed.divisions.keys("Person", "440106")[0]
    query = QUERY.replace("phone: name", "phone")  # Person.phone: GZ-PSB's, not TH-CA's
    problems = _problems(fuzzed, "TH-CA", {"idNumber": key, "phone": "1"}, query)
    assert problems == ["Person.phone is not in the agency's schema"]


def test_a_record_of_another_district_or_none_is_caught(fuzzed: Fuzzed) -> None:
    elsewhere = fuzzed.divisions.keys("Person", "!440106")[0]
    assert "(Art. 21)" in _problems(fuzzed, "TH-CA", {"idNumber": elsewhere})[0]
    assert "does not exist" in _problems(fuzzed, "TH-CA", {"idNumber": "110101190001010018"})[0]
    assert _problems(fuzzed, "GZ-PSB", {"idNumber": elsewhere}) == []  # the whole city


def test_a_key_never_asked_for_is_caught(fuzzed: Fuzzed) -> None:
    key = fuzzed.divisions.keys("Person", "440106")[0]
    problems = _problems(fuzzed, "TH-CA", {"idNumber": key, "address": "x"})
    assert problems == ["Person: the answer holds 'address', never asked for"]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ('Traceback (most recent call last):\n  File "x", line 1', "Traceback"),
        ("ValueError: bad", "ValueError"),
        ("'NoneType' object is not subscriptable", "NoneType"),
        ("raised in gateway.http.app at line 3", "gateway.http"),
        ("see resolvers/root.py", ".py"),
        ("invalid literal for int() with base 10", "invalid literal for int()"),
    ],
)
def test_internal_details_in_an_answer_are_caught(text: str, shown: str) -> None:
    found = leaks(text)
    assert found is not None
    assert shown in found


def test_a_refusal_citing_the_docs_is_not_a_leak() -> None:
    assert leaks("Send GraphQL operations with POST to /graphql (docs/gateway.md).") is None


def test_a_field_the_named_duty_does_not_grant_is_caught(fuzzed: Fuzzed) -> None:
    # GZ-PSB's schema has Person.phone; under traffic-management it may not read it.
    view = fuzzed.views["GZ-PSB"]
    grants = fuzzed.policy.bound_grants("GZ-PSB", "traffic-management")
    problems = check_answer(
        schema=view.schema, grants=grants, divisions=fuzzed.divisions,
        query="{ persons(first: 1) { edges { node { phone } } } }", operation_name=None,
        variables=None, answer={"data": {"persons": {"edges": [{"node": {"phone": "1"}}]}}},
    )  # fmt: skip
    assert problems == ["Person.phone is not granted, yet it was answered"]
