"""Query validation for one agency: refuse forbidden names and oversized queries before running.

graphql-core's own checks for unknown fields, arguments and types are replaced by one rule that
answers each with FORBIDDEN_FIELD. A field that does not exist and a field that exists but is
not shared get the same answer, and no suggestions: an agency learns nothing of what it cannot
see. Depth and alias limits answer QUERY_TOO_COMPLEX (the token limit is enforced by the
parser).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    ValidationRule,
    specified_rules,
)
from graphql.validation import (
    FieldsOnCorrectTypeRule,
    KnownArgumentNamesRule,
    KnownTypeNamesRule,
)

if TYPE_CHECKING:
    from graphql import (
        ArgumentNode,
        DocumentNode,
        NamedTypeNode,
        SelectionSetNode,
        ValidationContext,
    )

__all__ = ["rules_for"]

_REPLACED = (FieldsOnCorrectTypeRule, KnownArgumentNamesRule, KnownTypeNamesRule)


def _forbidden(message: str, node: Any, name: str) -> GraphQLError:
    """FORBIDDEN_FIELD; `extensions.name` repeats the refused name (the audit log counts them)."""
    return GraphQLError(message, node, extensions={"code": "FORBIDDEN_FIELD", "name": name})


def _too_complex(message: str, node: Any) -> GraphQLError:
    return GraphQLError(message, node, extensions={"code": "QUERY_TOO_COMPLEX"})


#: Introspection is answered from memory, but its nesting still needs a bound; GraphiQL's own
#: schema query is 13 levels deep.
INTROSPECTION_DEPTH = 20


def rules_for(
    agency: str, *, max_depth: int, max_aliases: int, max_verifications: int
) -> list[type[ValidationRule]]:
    """The validation rules for a request by `agency`.

    `max_depth` bounds the nesting of data fields; introspection (fields named `__...` and all
    below them) is bounded by INTROSPECTION_DEPTH instead.
    """

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

    class LimitsRule(ValidationRule):
        """Depth of field nesting and the number of aliases, over the whole document."""

        def enter_document(self, node: DocumentNode, *_: object) -> None:
            fragments = {
                d.name.value: d for d in node.definitions if isinstance(d, FragmentDefinitionNode)
            }
            aliases = 0
            for definition in node.definitions:
                if isinstance(definition, OperationDefinitionNode):
                    data, introspection = _depth(definition.selection_set, fragments, set())
                    for depth, limit in ((data, max_depth), (introspection, INTROSPECTION_DEPTH)):
                        if depth > limit:
                            self.report_error(
                                _too_complex(
                                    f"The query nests {depth} levels deep; the limit is {limit}. "
                                    "Split it into several queries.",
                                    definition,
                                )
                            )
                            break
            aliases, verifications = _count(node)
            if verifications > max_verifications:
                self.report_error(
                    _too_complex(
                        f"The query verifies {verifications} claims; the limit is "
                        f"{max_verifications}. Verification checks a citizen's claim (Art. 24); "
                        "it is not a way to read records in bulk.",
                        node,
                    )
                )
            if aliases > max_aliases:
                self.report_error(
                    _too_complex(
                        f"The query uses {aliases} aliases; the limit is {max_aliases}. "
                        "Ask for fewer records at once, or use a list field.",
                        node,
                    )
                )

    keep = [rule for rule in specified_rules if rule not in _REPLACED]
    return [*keep, NotSharedRule, LimitsRule]


def _depth(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    visiting: set[str],
    *,
    inside_introspection: bool = False,
) -> tuple[int, int]:
    """(data depth, introspection depth) below `selection_set`, through fragments."""
    if selection_set is None:
        return 0, 0
    data = introspection = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            meta = inside_introspection or selection.name.value.startswith("__")
            below = _depth(selection.selection_set, fragments, visiting, inside_introspection=meta)
            if meta:
                introspection = max(introspection, 1 + max(below))
            else:
                data, introspection = max(data, 1 + below[0]), max(introspection, below[1])
            continue
        if isinstance(selection, InlineFragmentNode):
            below = _depth(
                selection.selection_set, fragments, visiting,
                inside_introspection=inside_introspection,
            )  # fmt: skip
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or name in visiting:  # cycles: another rule reports them
                continue
            below = _depth(
                fragment.selection_set, fragments, visiting | {name},
                inside_introspection=inside_introspection,
            )  # fmt: skip
        else:
            continue
        data, introspection = max(data, below[0]), max(introspection, below[1])
    return data, introspection


def _count(document: DocumentNode) -> tuple[int, int]:
    """(aliases, verification fields) written in the document.

    Each verification field written once runs at most once (repeats of one response key are
    merged), so counting what is written bounds what runs.
    """
    aliases = verifications = 0
    stack: list[Any] = list(document.definitions)
    while stack:
        node = stack.pop()
        if isinstance(node, FieldNode):
            aliases += node.alias is not None
            verifications += node.name.value.startswith("verify")
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)
    return aliases, verifications
