"""What the plan compiler accepts, what a plan holds, and how plans are cached."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from graphql import parse, validate

from gateway.graphql.plan import PlanCache, compile_plan
from gateway.graphql.plan.model import Listing, Lookup
from gateway.graphql.plan.sql import DIALECTS, keyed_statement
from gateway.graphql.schemas import AgencySchema
from policies.grants import RowScope

if TYPE_CHECKING:
    from policies.grants import Policy

PERSON = "11010519491231002X"


def plan_of(policy: Policy, agency: str, query: str, operation: str | None = None) -> Any:
    grants = policy.grants_for(agency)
    schema = AgencySchema(grants)
    document = parse(query)
    assert not validate(schema._schema, document), query  # plans start from valid documents
    return compile_plan(schema, document, operation, grants)


@pytest.mark.parametrize(
    "query",
    [
        "{ me { policyVersion } }",
        "{ __schema { queryType { name } } }",
        '{ __type(name: "Person") { name } }',
        f'{{ person(idNumber: "{PERSON}") {{ name }} me {{ administrator }} }}',
        "query($x: Boolean!) { persons { edges { node { name @include(if: $x) } } } }",
        "query($x: Boolean!) { persons @skip(if: $x) { edges { cursor } } }",
        '{ voucher(id: "v") { id } }',
        "{ freshness { dataset } }",
    ],
)
def test_operations_outside_the_plans_stay_on_the_resolver_path(policy: Policy, query: str) -> None:
    assert plan_of(policy, "GZ-PSB", query) is None


def test_a_document_with_several_operations_is_planned_only_when_one_is_named(
    policy: Policy,
) -> None:
    query = "query A { persons(first: 1) { edges { cursor } } } query B { __typename }"
    assert plan_of(policy, "GZ-PSB", query) is None  # execution refuses it, with its words
    assert plan_of(policy, "GZ-PSB", query, "A") is not None
    assert plan_of(policy, "GZ-PSB", query, "C") is None


def test_fragments_aliases_and_literal_directives_are_expanded_once_at_compile_time(
    policy: Policy,
) -> None:
    plan = plan_of(policy, "GZ-PSB", (
        f'{{ a: person(idNumber: "{PERSON}") {{ ...P n: name @skip(if: true) }}'
        f' b: person(idNumber: "{PERSON}") {{ ... on Person {{ name }} licenses {{ kind }} }} }}'
        " fragment P on Person { idNumber licenses { status } }"
    ))  # fmt: skip
    a, b = plan.roots
    assert isinstance(a, Lookup)
    assert isinstance(b, Lookup)
    assert [op[0] for op in a.node.ops] == ["idNumber", "licenses"]  # `n` skipped for good
    assert [op[0] for op in b.node.ops] == ["name", "licenses"]
    # Both look-ups share one statement, and so do both links: two statements in all.
    assert a.slot == b.slot
    assert plan.statements == 2
    assert plan.read == {"Query.person", "Person.idNumber", "Person.name", "Person.licenses",
                         "License.kind", "License.status"}  # fmt: skip


def test_statements_read_only_selected_and_granted_columns_and_carry_the_row_scope(
    policy: Policy,
) -> None:
    plan = plan_of(policy, "TH-CA", "{ persons(first: 5) { edges { node { name } } } }")
    (listing,) = plan.roots
    assert isinstance(listing, Listing)
    assert listing.columns == ("id_number", "name")  # the key (cursors, audit) and the field
    assert "marital_status" not in listing.columns
    grants = policy.grants_for("TH-CA")
    assert grants.scopes["Person"] == RowScope("division", "440106")
    text, tail = keyed_statement(
        DIALECTS["postgresql"], source="persons", columns=["id_number"], seal=False,
        by="id_number", kind=None, scope=grants.scopes["Person"], count=3,
    )  # fmt: skip
    assert "persons.division_code = $2" in text  # Art. 21, a bound parameter
    assert tail == ["440106"]
    assert "$1::varchar[]" in text  # any number of keys: one prepared statement


def test_a_seal_signature_is_never_planned_for_an_agency_that_may_not_read_the_sealed_fields(
    policy: Policy,
) -> None:
    grants = policy.grants_for("GZ-TAX")
    schema = AgencySchema(grants)
    # Validation refuses this document for GZ-TAX; the compiler refuses it too, on its own.
    document = parse('{ license(licenseNumber: "x") { seal { signature } } }')
    assert validate(schema._schema, document)
    assert compile_plan(schema, document, None, grants) is None


def test_plans_are_cached_per_grants_scope_document_and_operation(policy: Policy) -> None:
    cache = PlanCache(size=3)
    query = "{ licenses(first: 1) { edges { node { kind } } } }"

    def plan(agency: str, version: str = "v1", operation: str | None = None) -> Any:
        grants = policy.grants_for(agency)
        schema = AgencySchema(grants)
        return cache.plan_for(schema, parse(query), query=query, operation_name=operation,
                              grants=grants, policy_version=version)  # fmt: skip

    first = plan("GZ-AMR")
    assert plan("GZ-AMR") is first
    assert cache.compiled == 1
    # Yuexiu's market regulator has the city's grants but sees its own district only (Art. 21):
    # its statements differ, so its plan does too.
    assert policy.grants_for("YX-AMR").signature == policy.grants_for("GZ-AMR").signature
    assert plan("YX-AMR") is not first
    assert plan("GZ-AMR", operation="Other") is None  # no such operation: not plannable
    assert cache.compiled == 3
    plan("GZ-PSB")  # a fourth entry in a cache of three: the least recently used goes
    assert len(cache) == 3
    plan("GZ-PSB", version="v2")  # a new policy: the old policy's plans go
    assert len(cache) == 1
