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

from gateway.workflows.api import Mutation, WorkflowQuery  # issue 13 hook
from sources.inventory import BY_ENTITY

if TYPE_CHECKING:
    from strawberry.types.base import StrawberryObjectDefinition
    from strawberry.types.field import StrawberryField

    from gateway.document_bounds import Bounds
    from policies.grants import Grants

__all__ = ["AgencySchema", "SchemaCache"]


class AgencySchema(strawberry.Schema):
    """The schema of one grant set; `get_fields` hides every field the grants do not cover."""

    #: How many validated documents each schema keeps (queries are mostly a few fixed texts).
    DOCUMENT_CACHE_SIZE = 512

    def __init__(self, grants: Grants) -> None:
        #: Query text -> its parsed document with its bounds (gateway.document_bounds), for
        #: documents that passed validation against this schema (so nothing agency-specific,
        #: like an error message, is ever reused).
        self.validated: OrderedDict[str, Bounds] = OrderedDict()
        self._readable = grants.readable
        self._verifiable = grants.verifiable
        self._visible_types = {entity for entity in BY_ENTITY if grants.fields(entity, "query")}
        super().__init__(
            query=WorkflowQuery,  # issue 13 hook: the root query plus the workflows' fields
            mutation=Mutation,  # issue 13 hook: the only mutations (workflows; no base data)
            config=StrawberryConfig(auto_camel_case=True),
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
            metadata: dict[str, Any] = dict(field.metadata or {})
            # A filter on a field reveals that field's values: keep only granted filters.
            granted = {
                **{k: v in self._readable for k, v in metadata.get("filters", {}).items()},
                **{k: v in self._verifiable for k, v in metadata.get("verify_filters", {}).items()},
            }
            if granted and not all(granted.values()):
                field = copy.copy(field)  # noqa: PLW2901 (a trimmed copy replaces the original)
                field.arguments = [a for a in field.arguments if granted.get(a.python_name, True)]
            fields.append(field)
        return fields


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
