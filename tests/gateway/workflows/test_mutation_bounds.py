"""Mutations are measured and audited against the mutation root, as queries are against theirs.

Before the workflows every operation was a query, and the document walk started every operation
at the query root: a mutation's fields were unknown to it, so it cost next to nothing and its
audit record listed no field (both checked here against the walk's old behaviour)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from graphql import parse

from gateway.graphql.bounds.measure import measure
from gateway.graphql.reads import fields_read
from gateway.graphql.schemas import AgencySchema
from gateway.settings import Limits

if TYPE_CHECKING:
    from policies.grants import Policy

MUTATION = """mutation {
  requestAccess(fields: ["Person.phone"], duty: "civil-affairs", reason: "review") {
    id history { step action }
  }
}"""


def test_a_mutation_is_costed_from_the_mutation_root_with_its_lists(policy: Policy) -> None:
    schema = AgencySchema(policy.grants_for("TH-CA"))
    limits = Limits()
    bounds = measure(parse(MUTATION), schema._schema, limits)
    # requestAccess, id, history, and history's two fields once per assumed item (10).
    assert bounds.cost(schema._schema, limits, None, None) == 3 + 2 * limits.records_per_link


def test_a_mutations_fields_are_recorded_as_read(policy: Policy) -> None:
    schema = AgencySchema(policy.grants_for("TH-CA"))
    assert fields_read(schema._schema, parse(MUTATION), None) == {
        "Mutation.requestAccess", "AccessRequest.id", "AccessRequest.history", "CaseStep.step",
        "CaseStep.action",
    }  # fmt: skip
