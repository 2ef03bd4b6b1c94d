"""List fields, filters and verification claims come from one declaration, and an argument
declared nowhere is never shown: the agency schema refuses to be built."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import strawberry

from gateway.graphql.plan.compiler import _LISTINGS
from gateway.graphql.schemas import AgencySchema
from resolvers.declarations import LISTS, PERSON_CLAIMS, declared
from resolvers.root import Query

if TYPE_CHECKING:
    from strawberry.types.field import StrawberryField

    from policies.grants import Policy


def _root_field(name: str) -> StrawberryField:
    definition = Query.__strawberry_definition__  # type: ignore[attr-defined]
    found: StrawberryField = next(f for f in definition.fields if f.python_name == name)
    return found


@pytest.mark.parametrize("spec", LISTS, ids=lambda spec: spec.name)
def test_a_list_field_takes_exactly_its_declared_filters(spec: object) -> None:
    from resolvers.declarations import ListField

    assert isinstance(spec, ListField)
    field = _root_field(spec.name)
    assert [a.python_name for a in field.arguments] == [
        "first", "after", *(f.name for f in spec.filters)
    ]  # fmt: skip
    assert field.metadata["filters"] == {f.name: f.ref for f in spec.filters}
    assert field.metadata["needs"] == (spec.key_ref,)
    # The compiled plans read the same declaration, in the same order.
    assert _LISTINGS[spec.field] == (
        spec.entity, tuple((f.argument, f.how, f.column) for f in spec.filters)
    )  # fmt: skip


def test_verification_takes_exactly_its_declared_claims() -> None:
    field = _root_field("verify_person")
    assert [a.python_name for a in field.arguments] == [
        "id_number", *(c.name for c in PERSON_CLAIMS)
    ]  # fmt: skip
    assert set(field.metadata["verify_filters"]) == {c.name for c in PERSON_CLAIMS}


@strawberry.type
class _Forgotten:
    """A list field whose `phone` filter was left out of its declaration."""

    @strawberry.field(metadata=declared(free=("first",), filters={"name": "Person.name"}))  # type: ignore[untyped-decorator]
    def people(self, first: int = 20, name: str | None = None, phone: str | None = None) -> int:
        return first


def test_an_argument_declared_nowhere_refuses_the_schema_instead_of_showing(
    policy: Policy,
) -> None:
    # Before, a filter missing from the metadata was shown to every agency (fail open).
    # graphql-core wraps it in a TypeError naming the type.
    with pytest.raises(TypeError, match=r"people\(phone:\) is declared nowhere"):
        AgencySchema(policy.grants_for("GZ-PSB"), query=_Forgotten)


def test_a_declared_filter_is_shown_only_where_its_field_is_readable(policy: Policy) -> None:
    @strawberry.type
    class Declared:
        @strawberry.field(  # type: ignore[untyped-decorator]
            metadata=declared(free=("first",), filters={"name": "Person.name",
                                                        "secret": "Person.nothingSuch"})
        )  # fmt: skip
        def people(self, first: int = 20, name: str | None = None,
                   secret: str | None = None) -> int:  # fmt: skip
            return first

    schema = AgencySchema(policy.grants_for("GZ-PSB"), query=Declared)
    arguments = schema.as_str().split("people(")[1].split(")")[0]
    assert "first" in arguments
    assert "name" in arguments
    assert "secret" not in arguments
