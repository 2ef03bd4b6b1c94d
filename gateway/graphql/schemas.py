"""One GraphQL schema per distinct grant set: the full schema minus what an agency may not read.

Built once per policy load and shared by every agency with the same grants (the grants'
`signature`). Introspection of an agency's schema lists only its fields: there is nothing else
in it to list or to suggest.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import strawberry
from strawberry.schema.config import StrawberryConfig

from gateway.graphql.workflows.api import Mutation, WorkflowQuery
from sources.inventory import BY_ENTITY

if TYPE_CHECKING:
    from strawberry.types.arguments import StrawberryArgument
    from strawberry.types.base import StrawberryObjectDefinition
    from strawberry.types.field import StrawberryField

    from gateway.graphql.bounds.measure import Bounds
    from policies.grants import Grants

__all__ = ["AgencySchema", "SchemaCache", "UndeclaredArgumentError"]


class UndeclaredArgumentError(TypeError):
    """A field has an argument its declaration does not name: a programming error, caught when
    the schema is built (at start-up), never an argument shown by default."""


class AgencySchema(strawberry.Schema):
    """The schema of one grant set; `get_fields` hides every field the grants do not cover."""

    #: How many validated documents each schema keeps (queries are mostly a few fixed texts).
    DOCUMENT_CACHE_SIZE = 512

    def __init__(
        self, grants: Grants, *, query: type = WorkflowQuery, mutation: type | None = Mutation
    ) -> None:
        #: Query text -> its parsed document with its bounds (gateway.graphql.bounds.measure), for
        #: documents that passed validation against this schema (so nothing agency-specific,
        #: like an error message, is ever reused).
        self.validated: OrderedDict[str, Bounds] = OrderedDict()
        self._readable = grants.readable
        self._verifiable = grants.verifiable
        self._visible_types = {entity for entity in BY_ENTITY if grants.fields(entity, "query")}
        super().__init__(
            query=query, mutation=mutation, config=StrawberryConfig(auto_camel_case=True)
        )

    def remember(self, query: str, document: Bounds) -> None:
        """Keep a document that passed validation, dropping the least recently used."""
        self.validated[query] = document
        self.validated.move_to_end(query)
        if len(self.validated) > self.DOCUMENT_CACHE_SIZE:
            self.validated.popitem(last=False)

    def recall(self, query: str) -> Bounds | None:
        """A document this schema validated before, or None."""
        document = self.validated.get(query)
        if document is not None:
            self.validated.move_to_end(query)
        return document

    def _shows(self, field: StrawberryField) -> bool:
        metadata: dict[str, Any] = dict(field.metadata or {})
        ref = metadata.get("ref")
        if ref is not None and ref not in self._readable:
            return False
        if any(need not in self._readable for need in metadata.get("needs", ())):
            return False
        if any(need not in self._verifiable for need in metadata.get("verify", ())):
            return False
        target = metadata.get("target")
        return target is None or target in self._visible_types

    def get_fields(self, type_definition: StrawberryObjectDefinition) -> list[StrawberryField]:
        """The fields of a type this grant set may see, with ungranted filters removed."""
        fields = []
        for field in type_definition.fields:
            if not self._shows(field):
                continue
            shown = [a for a in field.arguments if self._shows_argument(type_definition, field, a)]
            if len(shown) < len(field.arguments):
                field = copy.copy(field)  # noqa: PLW2901 (a trimmed copy replaces the original)
                field.arguments = shown
            fields.append(field)
        return fields

    def _shows_argument(
        self,
        type_definition: StrawberryObjectDefinition,
        field: StrawberryField,
        argument: StrawberryArgument,
    ) -> bool:
        """Whether this grant set sees `argument`: a filter reveals the field it compares, so it
        is shown only where that field is granted. An argument its field does not declare
        (resolvers.declarations) refuses the whole schema: it is never shown by default."""
        metadata: dict[str, Any] = dict(field.metadata or {})
        name = argument.python_name
        if name in metadata.get("filters", {}):
            return bool(metadata["filters"][name] in self._readable)
        if name in metadata.get("verify_filters", {}):
            return bool(metadata["verify_filters"][name] in self._verifiable)
        if name in metadata.get("free", ()):
            return True
        raise UndeclaredArgumentError(
            f"{type_definition.name}.{field.python_name}({name}:) is declared nowhere: add it "
            "to the field's metadata (resolvers.declarations.declared) as a filter with the "
            "field it reveals, or as free when it reveals none. The schema is not built."
        )


class SchemaCache:
    """Schemas by grant signature, built eagerly for a policy so requests never wait on one."""

    def __init__(self, grants: list[Grants]) -> None:
        self._schemas: dict[Any, AgencySchema] = {}
        for item in grants:
            self.schema_for(item)

    def schema_for(self, grants: Grants) -> AgencySchema:
        """The schema for this grant set (built on first use if new)."""
        schema = self._schemas.get(grants.signature)
        if schema is None:
            schema = AgencySchema(grants)
            self._schemas[grants.signature] = schema
        return schema

    def __len__(self) -> int:
        return len(self._schemas)
