"""What an agency's GraphQL answer may hold: only fields its grants cover, only its own district.

The answer is walked together with the document that asked for it (fragments, inline fragments,
aliases and `@skip`/`@include` resolved as the executor resolves them), so every response key is
known as `Type.field`. Then:

- every key is a field of the agency's own schema (as its introspection shows it);
- every base-data field (`sources.inventory`) of a record is in the agency's readable grants
  (`policies.grants`, under the duty the request named);
- a record of an agency with a division scope belongs to that division (Art. 21), looked up by
  its key in the seeded databases; a key the databases do not hold is a violation too.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLIncludeDirective,
    GraphQLObjectType,
    GraphQLSkipDirective,
    InlineFragmentNode,
    OperationDefinitionNode,
    get_named_type,
    parse,
)
from graphql.execution.values import VariableValues, get_directive_values, get_variable_values

from sources.inventory import BY_ENTITY

if TYPE_CHECKING:
    from pathlib import Path

    from graphql import DocumentNode, GraphQLSchema, SelectionSetNode

    from policies.grants import Grants

__all__ = ["RECORD_KEYS", "Divisions", "check_answer"]

#: The key field of each record type.
RECORD_KEYS = {entity: source.key for entity, source in BY_ENTITY.items()}
_INVENTORY = {entity: {f.name for f in source.fields} for entity, source in BY_ENTITY.items()}


@dataclass(frozen=True)
class Divisions:
    """The division of every seeded record, by type and key (from the databases themselves)."""

    by_key: dict[str, dict[str, str]]

    @classmethod
    def read(cls, folder: Path) -> Divisions:
        """Every record's division code in the seeded SQLite databases of `folder`."""
        found: dict[str, dict[str, str]] = {}
        for entity, source in BY_ENTITY.items():
            key = source.field(source.key).columns[0]
            database = folder / f"{_DATABASE[entity]}.db"
            with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
                rows = db.execute(f"SELECT {key}, division_code FROM {source.table.name}")
                found[entity] = {str(k): str(d) for k, d in rows}
        return cls(found)

    def keys(self, entity: str, division: str | None = None) -> list[str]:
        """Keys of `entity`, of one division (or of every other, `division="!CODE"`)."""
        items = sorted(self.by_key[entity].items())
        if division is None:
            return [k for k, _ in items]
        if division.startswith("!"):
            return [k for k, d in items if d != division[1:]]
        return [k for k, d in items if d == division]


_DATABASE = {
    "Person": "persons",
    "LegalEntity": "entities",
    "LandParcel": "land",
    "License": "licenses",
}


class _Walk:
    """One answer walked with its operation."""

    def __init__(
        self,
        schema: GraphQLSchema,
        grants: Grants,
        divisions: Divisions,
        fragments: dict[str, FragmentDefinitionNode],
        variables: VariableValues,
    ) -> None:
        self.schema = schema
        self.grants = grants
        self.divisions = divisions
        self.fragments = fragments
        self.variables = variables
        self.problems: list[str] = []

    def included(self, node: FieldNode | InlineFragmentNode | FragmentSpreadNode) -> bool:
        skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
        if skip is not None and skip.get("if") is True:
            return False
        include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        return not (include is not None and include.get("if") is False)

    def collect(
        self, selection_set: SelectionSetNode, type_name: str, into: dict[str, list[FieldNode]]
    ) -> dict[str, list[FieldNode]]:
        """Fields by response key, as the executor collects them for an object of `type_name`."""
        for selection in selection_set.selections:
            if not self.included(selection):  # type: ignore[arg-type]
                continue
            if isinstance(selection, FieldNode):
                key = (selection.alias or selection.name).value
                into.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is None or condition.name.value == type_name:
                    self.collect(selection.selection_set, type_name, into)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None and fragment.type_condition.name.value == type_name:
                    self.collect(fragment.selection_set, type_name, into)
        return into

    def value(self, value: Any, type_name: str, selections: list[SelectionSetNode]) -> None:
        if value is None:
            return
        if isinstance(value, list):
            for item in value:
                self.value(item, type_name, selections)
            return
        if not selections:  # a leaf (scalar or enum): nothing below it to check
            return
        if not isinstance(value, dict):
            self.problems.append(f"{type_name}: an object was expected, got {value!r:.80}")
            return
        parent = self.schema.get_type(type_name)
        if not isinstance(parent, GraphQLObjectType):
            self.problems.append(f"{type_name} is not an object type of the agency's schema")
            return
        fields: dict[str, list[FieldNode]] = {}
        for selection_set in selections:
            self.collect(selection_set, type_name, fields)
        for key, member in value.items():
            nodes = fields.get(key)
            if not nodes:
                self.problems.append(f"{type_name}: the answer holds {key!r}, never asked for")
                continue
            name = nodes[0].name.value
            if name == "__typename":
                continue
            definition = parent.fields.get(name)
            if definition is None:
                self.problems.append(f"{type_name}.{name} is not in the agency's schema")
                continue
            if (
                name in _INVENTORY.get(type_name, ())
                and f"{type_name}.{name}" not in self.grants.readable
            ):
                self.problems.append(f"{type_name}.{name} is not granted, yet it was answered")
            below = [n.selection_set for n in nodes if n.selection_set is not None]
            self.value(member, get_named_type(definition.type).name, below)
        if type_name in RECORD_KEYS:
            self.record(type_name, value, fields)

    def record(
        self, entity: str, value: dict[str, Any], fields: dict[str, list[FieldNode]]
    ) -> None:
        """A record must exist and, for a division scope, be of that division (Art. 21)."""
        scope = self.grants.scopes[entity]
        keys = [
            value[k]
            for k, nodes in fields.items()
            if nodes[0].name.value == RECORD_KEYS[entity] and k in value
        ]
        if not keys or keys[0] is None:
            return  # the key was not asked for: the division cannot be told here
        division = self.divisions.by_key[entity].get(str(keys[0]))
        if division is None:
            self.problems.append(f"{entity} {keys[0]!r} was answered but does not exist")
        elif scope.kind == "division" and division != scope.division:
            self.problems.append(
                f"{entity} {keys[0]} of division {division} was answered to "
                f"an agency scoped to {scope.division} (Art. 21)"
            )


def check_answer(
    *,
    schema: GraphQLSchema,
    grants: Grants,
    divisions: Divisions,
    query: str,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    answer: Any,
) -> list[str]:
    """Every way `answer` to one operation oversteps the agency's grants (empty when none)."""
    if not isinstance(answer, dict) or answer.get("data") is None:
        return []
    document: DocumentNode = parse(query)
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [
        o
        for o in operations
        if operation_name is None or (o.name and o.name.value == operation_name)
    ]
    if len(chosen) != 1:
        return [f"data for an operation that cannot run: {operation_name!r}"]
    operation = chosen[0]
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables or {})
    if isinstance(coerced, list):
        return ["data although the variables cannot be coerced: " + str(coerced[0].message)]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    walk = _Walk(schema, grants, divisions, fragments, coerced)
    root = schema.query_type
    if root is None:
        return ["the agency's schema has no Query type"]
    walk.value(answer["data"], root.name, [operation.selection_set])
    return walk.problems
