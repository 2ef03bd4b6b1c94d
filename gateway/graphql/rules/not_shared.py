"""NotShared: refuse every name outside the agency's schema, before anything runs.

graphql-core's own checks for unknown fields, arguments and types are replaced by one rule that
answers each with FORBIDDEN_FIELD. A field that does not exist and a field that exists but is
not shared get the same answer, and no suggestions: an agency learns nothing of what it cannot
see. The bounds on size (depth, aliases, verifications, expanded fields, cost) are checked
before these rules run, by gateway.graphql.bounds.measure: graphql-core's rules then only ever walk
documents of bounded size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graphql import GraphQLError, ValidationRule
from graphql.validation import (
    FieldsOnCorrectTypeRule,
    KnownArgumentNamesRule,
    KnownTypeNamesRule,
)

if TYPE_CHECKING:
    from graphql import ArgumentNode, FieldNode, NamedTypeNode, ValidationContext

__all__ = ["REPLACED", "not_shared_rule"]

#: graphql-core's rules this one replaces (they would name, or suggest, what is not shared).
REPLACED = (FieldsOnCorrectTypeRule, KnownArgumentNamesRule, KnownTypeNamesRule)


def _forbidden(message: str, node: Any, name: str) -> GraphQLError:
    """FORBIDDEN_FIELD; `extensions.name` repeats the refused name (the audit log counts them)."""
    return GraphQLError(message, node, extensions={"code": "FORBIDDEN_FIELD", "name": name})


def not_shared_rule(agency: str) -> type[ValidationRule]:
    """The rule for a request by `agency` (its messages name the agency)."""

    class NotSharedRule(ValidationRule):
        """Every name outside the agency's schema: one FORBIDDEN_FIELD error per name."""

        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.reported: set[str] = set()
            #: The field whose arguments are being visited (they come before its selection).
            self.field_name = ""

        def refuse(self, name: str, message: str, node: Any) -> None:
            """Refuse `name` (`Type.field`, `Type.field(argument:)` or a type) once."""
            if name not in self.reported:
                self.reported.add(name)
                self.report_error(_forbidden(message, node, name))

        def enter_field(self, node: FieldNode, *_: object) -> None:
            self.field_name = node.name.value
            parent = self.context.get_parent_type()
            if parent is not None and self.context.get_field_def() is None:
                name = node.name.value
                self.refuse(
                    f"{parent.name}.{name}",
                    f"Field '{name}' on type '{parent.name}' is not shared with agency {agency}; "
                    "query `me` to see what it may read.",
                    node,
                )

        def enter_argument(self, node: ArgumentNode, *_: object) -> None:
            field = self.context.get_field_def()
            parent = self.context.get_parent_type()
            if field is not None and parent is not None and self.context.get_argument() is None:
                name = node.name.value
                self.refuse(
                    f"{parent.name}.{self.field_name}({name}:)",
                    f"Argument '{name}' is not available to agency {agency} here; filters exist "
                    "only for fields it may read.",
                    node,
                )

        def enter_named_type(self, node: NamedTypeNode, *_: object) -> None:
            name = node.name.value
            if self.context.schema.get_type(name) is None:
                self.refuse(name, f"Type '{name}' is not shared with agency {agency}.", node)

    return NotSharedRule
