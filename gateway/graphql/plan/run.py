"""Run a plan for one request: bind the variables, run the statements, build the response.

1. Variables are coerced with graphql-core's own `get_variable_values`, and each root field's
   arguments with its `get_argument_values`, so their errors are execution's, word for word.
2. Root fields check their arguments in document order, as the resolvers' first steps do
   (identifiers, filters, page size, cursor): an error nulls that field only, except under
   `verifyPerson`, which is non-null, so its error nulls the whole answer.
3. Statements run level by level: the root fields' first, then each level of links with the
   keys the level above found, one statement per link (`Keyed`); statements of one level run
   concurrently, on their sources' drivers, each within its source's time limit. A source
   that is down or too slow nulls the fields it feeds, with one SOURCE_UNAVAILABLE error per
   place in the response, and the rest is answered (Art. 20).
4. The response is built depth first from the rows, noting every record put into it for the
   audit log (Art. 34) and checking every seal selected (Art. 23).

Nothing reaches the request context before the answer is complete: a plan that fails in a way
the resolver path would not (a bug) leaves no trace, and the caller runs the resolvers.

Past ~400 lines on purpose: one interpreter of one plan (binding, statements per level, rows into
the response), whose row loop is the hot path and is kept together so that it can be read and
measured whole (bench/plan_stages.py; docs/architecture.md, "Modules over ~400 lines").
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graphql import located_error
from graphql.execution.values import get_argument_values, get_variable_values
from strawberry.utils.str_converters import to_camel_case

from gateway.graphql.plan.drivers import driver_for
from gateway.graphql.plan.model import (
    CHECKED,
    COLUMN,
    CONST,
    CURSOR,
    EDGES,
    ISSUER,
    LINK,
    MATCH,
    NODE,
    PAGE_INFO,
    SEAL,
    Keyed,
    Listing,
    Lookup,
    Typename,
    Verify,
)
from gateway.graphql.plan.seals import checked_seal
from gateway.graphql.plan.sql import keyed_statement, page_statement, verify_statement
from gateway.tracing import span
from resolvers.arguments import (
    after_key,
    check_box,
    check_page_size,
    claims_given,
    cursor,
    division,
    name_pattern,
    plain_text,
)
from resolvers.declarations import PERSON_CLAIMS
from resolvers.fetch import DEFAULT_TIMEOUT
from sources.identifiers import IdNumber
from sources.inventory import SOURCES

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from graphql import FieldNode, GraphQLError

    from gateway.graphql.plan.drivers import Driver
    from gateway.graphql.plan.model import Link, Node, Plan, Projection, Root
    from policies.catalog import Catalog
    from resolvers.context import RequestContext

__all__ = ["Outcome", "run_plan"]

#: verifyPerson's claim arguments -> the columns they are checked against, in the resolver's
#: order: their one declaration (resolvers.declarations).
_CLAIMS = tuple((claim.argument, claim.column) for claim in PERSON_CLAIMS)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One operation's answer: `data`, the errors (located, not yet shaped for the client),
    and the `Type.field`s it read (none when `data` is null)."""

    data: dict[str, Any] | None
    errors: list[GraphQLError]
    read: frozenset[str]


async def run_plan(plan: Plan, variables: Mapping[str, Any] | None, ctx: RequestContext) -> Outcome:
    """Answer one operation with `plan`; the records returned and the audit flags are added to
    `ctx` (as the resolvers add them) once the answer is complete."""
    if plan.operation.variable_definitions:
        coerced = get_variable_values(
            plan.schema, plan.operation.variable_definitions, dict(variables or {}), max_errors=50
        )
        if isinstance(coerced, list):  # execution refuses such variables before any field
            return Outcome(None, coerced, frozenset())
    else:
        coerced = None
    request = _Request(plan, ctx, coerced)
    data = await request.answer()
    errors = [located_error(error, list(nodes), path) for error, path, nodes in request.ordered()]
    ctx.returned += request.returned
    ctx.flags += request.flags
    return Outcome(data, errors, plan.read if data is not None else frozenset())


def _group(rows: Sequence[Any], by: int) -> dict[Any, list[Any]]:
    groups: dict[Any, list[Any]] = {}
    for row in rows:
        key = row[by]
        found = groups.get(key)
        if found is None:
            groups[key] = [row]
        else:
            found.append(row)
    return groups


_AGENCIES: dict[int, tuple[Catalog, dict[str, dict[str, Any]]]] = {}


def _agencies(catalog: Catalog) -> dict[str, dict[str, Any]]:
    """The catalogue's agencies by code, as `License.issuer` shows them."""
    cached = _AGENCIES.get(id(catalog))
    if cached is None or cached[0] is not catalog:
        table = {
            a.code: {
                "code": a.code,
                "name": a.name,
                "level": a.level,
                "division": a.division,
                "kind": a.kind,
                "duties": a.duties,
            }
            for a in catalog.agencies
        }
        if len(_AGENCIES) > 16:  # a catalogue per policy load: keep the last few
            _AGENCIES.clear()
        cached = _AGENCIES[id(catalog)] = (catalog, table)
    return cached[1]


def _project(shape: Projection, values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, name, constant in shape:
        if name is None:
            out[key] = constant
        else:
            value = values[name]
            out[key] = list(value) if isinstance(value, tuple) else value
    return out


class _Request:
    """The state of one request running a plan."""

    def __init__(self, plan: Plan, ctx: RequestContext, variables: Any) -> None:
        self.plan = plan
        self.ctx = ctx
        self.variables = variables
        self.results: list[Any] = [None] * plan.slots
        #: Rows of each node that has links below it, by node id.
        self.rows: dict[int, list[Any]] = {}
        #: (error, path, field nodes), located at the end; and the level each happened at.
        self.errors: list[tuple[Exception, list[str | int], tuple[FieldNode, ...]]] = []
        self.levels: list[int] = []
        self.returned: list[tuple[str, str]] = []
        self.flags: list[str] = []
        #: Per root field (by position): what its arguments came to, or None after an error.
        self.prepared: list[Any] = [None] * len(plan.roots)
        self.lookup_keys: dict[int, dict[str, None]] = {}
        #: The path of the object being built, kept only when some statement failed.
        self.path: list[str | int] | None = None

    def error(
        self, error: Exception, path: list[str | int], nodes: tuple[FieldNode, ...], level: int
    ) -> None:
        """Note a field's error, at the level of statements it happened after (-1: before any)."""
        self.errors.append((error, path, nodes))
        self.levels.append(level)

    def ordered(self) -> list[tuple[Exception, list[str | int], tuple[FieldNode, ...]]]:
        """The errors in the order the resolvers would meet them: arguments first, then each
        level's statements (in response order within a level)."""
        order = sorted(range(len(self.errors)), key=self.levels.__getitem__)
        return [self.errors[i] for i in order]

    # -- 1. arguments --------------------------------------------------------------------

    def _arguments(self, root: Root) -> Mapping[str, Any]:
        if root.arguments is not None:
            return root.arguments
        if root.field is None:
            return {}
        return get_argument_values(root.field, root.nodes[0], self.variables)

    def _prepare(self) -> tuple[Exception, Root] | None:
        """Check every root field's arguments; the first verification refused, if any."""
        refused: tuple[Exception, Root] | None = None
        for index, root in enumerate(self.plan.roots):
            try:
                if isinstance(root, Lookup):
                    key = root.parse(self._arguments(root)[root.argument])
                    self.lookup_keys.setdefault(root.slot, {})[key] = None
                    self.prepared[index] = key
                elif isinstance(root, Listing):
                    self.prepared[index] = self._page_arguments(root)
                elif isinstance(root, Verify):
                    arguments = self._arguments(root)
                    key = IdNumber.parse(arguments["idNumber"]).value
                    given = claims_given({c: arguments.get(a) for a, c in _CLAIMS})
                    self.flags.append(f"verify:Person:{key}")  # the audit names what was checked
                    self.prepared[index] = (key, given)
            except Exception as error:  # a field's error, as execution catches it
                if not isinstance(root, Verify):
                    self.error(error, [root.key], root.nodes, -1)
                elif refused is None:
                    refused = (error, root)
        return refused

    def _page_arguments(
        self, root: Listing
    ) -> tuple[tuple[tuple[str, str], ...], list[Any], int, bool]:
        arguments = self._arguments(root)
        terms: list[tuple[str, str]] = []
        values: list[Any] = []
        for argument, how, column in root.filters:
            value = arguments.get(argument)
            if value is None:
                continue
            if how == "like":
                terms.append(("like", column))
                values.append(name_pattern(root.entity, value))
            elif how == "division":
                terms.append(("eq", column))
                values.append(division(value))
            elif how == "eq":
                terms.append(("eq", column))
                values.append(value)
            else:
                box = (value["minLon"], value["minLat"], value["maxLon"], value["maxLat"])
                check_box(*box)
                terms.append(("bbox", ""))
                values += [box[2], box[0], box[3], box[1]]
        first: int = arguments["first"]
        check_page_size(first, self.ctx.max_page_size)
        start = after_key(arguments.get("after"))
        if start is not None:
            values.append(start)
        return tuple(terms), values, first, start is not None

    # -- 2. statements -------------------------------------------------------------------

    async def answer(self) -> dict[str, Any] | None:
        refused = self._prepare()
        if refused is not None:  # a non-null root field failed: the whole answer is null
            error, root = refused
            self.error(error, [root.key], root.nodes, 0)
            return None
        await self._level_zero()
        for index, root in enumerate(self.plan.roots):
            if isinstance(root, Verify) and self.prepared[index] is not None:
                failed = self.results[root.slot]
                if isinstance(failed, Exception):
                    self.error(failed, [root.key], root.nodes, 0)
                    return None
        self._root_rows()
        for level in range(1, self.plan.levels):
            await self._links(level)
        if any(isinstance(r, Exception) for r in self.results):
            self.path = []
        return self._build()

    async def _level_zero(self) -> None:
        jobs: list[tuple[int, str, str, list[Any], int]] = []
        ctx = self.ctx
        for keyed in self.plan.keyed:
            if keyed.level == 0 and keyed.slot in self.lookup_keys:
                jobs.append(self._keyed_job(keyed, list(self.lookup_keys[keyed.slot])))
        for index, root in enumerate(self.plan.roots):
            prepared = self.prepared[index]
            if prepared is None:
                continue
            if isinstance(root, Listing):
                terms, values, first, after = prepared
                driver = self._driver(root.source)
                variant = (driver.dialect.name, terms, after)
                found = root.sql.get(variant)
                if found is None:
                    found = root.sql[variant] = page_statement(
                        driver.dialect, source=root.source, columns=root.columns, seal=root.seal,
                        terms=terms, after=after, scope=ctx.grants.scopes[root.entity],
                    )  # fmt: skip
                text, tail = found
                jobs.append((root.slot, root.source, text, [*values, *tail, first + 1], -1))
            elif isinstance(root, Verify):
                key, given = prepared
                driver = self._driver("persons")
                claimed = (driver.dialect.name, tuple(given))
                statement = root.sql.get(claimed)
                if statement is None:
                    statement = root.sql[claimed] = verify_statement(
                        driver.dialect, claimed=list(given), scope=ctx.grants.scopes["Person"]
                    )
                text, tail = statement
                jobs.append((root.slot, "persons", text, [key, *tail], -1))
        await self._run(jobs)

    def _root_rows(self) -> None:
        """The rows of each root node with links below it: where the first level's keys are."""
        for index, root in enumerate(self.plan.roots):
            prepared = self.prepared[index]
            if prepared is None:
                continue
            if isinstance(root, Lookup) and root.node.links:
                found = self.results[root.slot]
                if not isinstance(found, Exception):
                    self.rows[root.node.id] = found.get(prepared, [])
            elif isinstance(root, Listing):
                found = self.results[root.slot]
                if not isinstance(found, Exception):
                    for node in root.below:
                        if node.links:
                            self.rows[node.id] = found[: prepared[2]]

    async def _links(self, level: int) -> None:
        jobs = []
        for keyed in self.plan.keyed:
            if keyed.level != level:
                continue
            keys: dict[str, None] = {}
            for parent, link in keyed.feeds:
                for row in self.rows.get(parent, ()):
                    if link.parent_kind >= 0 and row[link.parent_kind] != link.kind_value:
                        continue
                    key = row[link.parent_key]
                    if key is not None:
                        keys[str(key)] = None
            if keys:
                jobs.append(self._keyed_job(keyed, list(keys)))
            else:  # no parent has the link: no statement, as no DataLoader would be called
                self.results[keyed.slot] = {}
        await self._run(jobs)
        for keyed in self.plan.keyed:
            if keyed.level != level:
                continue
            found = self.results[keyed.slot]
            for parent, link in keyed.feeds:
                if not link.node.links:
                    continue
                rows: list[Any] = []
                if not isinstance(found, Exception):
                    for row in self.rows.get(parent, ()):
                        key = _link_key(link, row)
                        if key is not None:
                            rows += found.get(key, ())
                self.rows[link.node.id] = rows

    def _keyed_job(self, keyed: Keyed, keys: list[str]) -> tuple[int, str, str, list[Any], int]:
        driver = self._driver(keyed.source)
        dialect = driver.dialect
        count = 1 if len(keys) == 1 else (len(keys) if dialect.name == "mysql" else 0)
        found = keyed.sql.get((dialect.name, count))
        if found is None:
            found = keyed.sql[(dialect.name, count)] = keyed_statement(
                dialect, source=keyed.source, columns=keyed.columns, seal=keyed.seal,
                by=keyed.by, kind=keyed.kind, count=len(keys),
                scope=self.ctx.grants.scopes[SOURCES[keyed.source].entity],
            )  # fmt: skip
        text, tail = found
        return keyed.slot, keyed.source, text, [*dialect.pack(keys), *tail], keyed.by_index

    def _driver(self, source: str) -> Driver:
        return driver_for(source, self.ctx.engines[source])

    async def _run(self, jobs: list[tuple[int, str, str, list[Any], int]]) -> None:
        if len(jobs) == 1:
            await self._fetch(*jobs[0])
        elif jobs:
            outcomes = await asyncio.gather(*(self._fetch(*job) for job in jobs),
                                            return_exceptions=True)  # fmt: skip
            for outcome in outcomes:
                if isinstance(outcome, Exception):
                    raise outcome

    async def _fetch(self, slot: int, source: str, text: str, params: list[Any], by: int) -> None:
        limit = self.ctx.timeouts.get(source, DEFAULT_TIMEOUT)
        try:
            system = self.ctx.engines[source].dialect.name  # a span's attribute: docs/security.md
            with span("statement", {"db.source": source, "db.system": system}) as traced:
                rows = await self._driver(source).fetch(text, params, limit)
                traced.set("db.rows", len(rows))
        except Exception as error:
            # SOURCE_UNAVAILABLE, or a database error about the statement (a missing table):
            # either way an error on every field the statement feeds, as on the resolver path
            # (where the second kind is masked and logged with the request id).
            self.results[slot] = error
            return
        self.results[slot] = _group(rows, by) if by >= 0 else rows

    # -- 3. the response -----------------------------------------------------------------

    def _build(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for index, root in enumerate(self.plan.roots):
            prepared = self.prepared[index]
            if isinstance(root, Typename):
                data[root.key] = root.value
            elif prepared is None:
                data[root.key] = None  # its error is noted already
            elif isinstance(root, Lookup):
                data[root.key] = self._lookup(root, prepared)
            elif isinstance(root, Listing):
                data[root.key] = self._page(root, prepared[2])
            elif isinstance(root, Verify):
                data[root.key] = self._verification(root, prepared[1])
        return data

    def _failed(self, root: Root, slot: int) -> BaseException | None:
        found = self.results[slot]
        if isinstance(found, Exception):
            self.error(found, [root.key], root.nodes, 0)
            return found
        return None

    def _lookup(self, root: Lookup, key: str) -> dict[str, Any] | None:
        if self._failed(root, root.slot):
            return None
        rows = self.results[root.slot].get(key)
        if not rows:
            return None
        if self.path is not None:
            self.path = [root.key]
        return self._record(root.node, rows[0], note=True)

    def _page(self, root: Listing, first: int) -> dict[str, Any] | None:
        if self._failed(root, root.slot):
            return None
        rows = self.results[root.slot]
        more = len(rows) > first  # the row past the page only says that another page follows
        page = rows[:first]
        entity, key = root.entity, root.key_index
        for row in page:  # noted once per page, whatever the selection (as resolvers._page)
            self.returned.append((entity, str(row[key])))
        # Cursors cost a base64 each: made for every edge only when edges select them.
        if root.cursors:
            cursors = [cursor(row[key]) for row in page]
        else:
            cursors = [cursor(page[-1][key])] if page else []
        out: dict[str, Any] = {}
        for op_key, what, a, _ in root.ops:
            if what == CONST:
                out[op_key] = a
            elif what == PAGE_INFO:
                info = {"hasNextPage": more, "endCursor": cursors[-1] if cursors else None}
                out[op_key] = _project(a, info)
            elif what == EDGES:
                out[op_key] = self._edges(root, op_key, a, page, cursors)
        return out

    def _edges(self, root: Listing, key: str, ops: Any, page: list[Any], cursors: list[str]
               ) -> list[dict[str, Any]]:  # fmt: skip
        edges = []
        for position, row in enumerate(page):
            if self.path is not None:
                self.path = [root.key, key, position]
            edge: dict[str, Any] = {}
            for edge_key, what, a, _ in ops:
                if what == CURSOR:
                    edge[edge_key] = cursors[position]
                elif what == NODE:
                    if self.path is not None:
                        self.path = [root.key, key, position, edge_key]
                    edge[edge_key] = self._record(a, row, note=False)
                else:
                    edge[edge_key] = a
            edges.append(edge)
        return edges

    def _verification(self, root: Verify, given: dict[str, str]) -> dict[str, Any]:
        rows = self.results[root.slot]
        match = bool(rows) and all(
            plain_text(rows[0][position]) == value
            for position, value in enumerate(given.values(), start=1)
        )
        out: dict[str, Any] = {}
        for key, what, a, _ in root.ops:
            if what == MATCH:
                out[key] = match
            elif what == CHECKED:  # the names the agency sent (`birthDate`), as resolvers do
                out[key] = sorted(to_camel_case(column) for column in given)
            else:
                out[key] = a
        return out

    def _record(self, node: Node, row: Sequence[Any], *, note: bool) -> dict[str, Any]:
        if note:
            self.returned.append((node.entity, str(row[node.key])))
        out: dict[str, Any] = {}
        for key, what, a, b in node.ops:
            if what == COLUMN:
                value = row[a]
                out[key] = value if b is None or value is None else b(value)
            elif what == CONST:
                out[key] = a
            elif what == LINK:
                out[key] = self._link(a, row, key)
            elif what == ISSUER:
                agency = _agencies(self.ctx.catalog).get(row[a])
                out[key] = None if agency is None else _project(b, agency)
            elif what == SEAL:
                seal = checked_seal(row, a, self.flags)
                out[key] = None if seal is None else _project(b, seal)
        return out

    def _link(self, link: Link, row: Sequence[Any], key: str) -> Any:
        if link.parent_kind >= 0 and row[link.parent_kind] != link.kind_value:
            return [] if link.many else None
        parent = row[link.parent_key]
        if parent is None:
            return [] if link.many else None
        found = self.results[link.slot]
        path = self.path
        if isinstance(found, Exception):
            self.error(found, [*(path or ()), key], link.nodes, link.level)
            return None
        rows = found.get(parent if type(parent) is str else str(parent), ())
        if not link.many:
            if not rows:
                return None
            if path is not None:
                self.path = [*path, key]
            made = self._record(link.node, rows[0], note=True)
            self.path = path
            return made
        records = []
        for position, linked in enumerate(rows):
            if path is not None:
                self.path = [*path, key, position]
            records.append(self._record(link.node, linked, note=True))
        self.path = path
        return records


def _link_key(link: Link, row: Sequence[Any]) -> str | None:
    if link.parent_kind >= 0 and row[link.parent_kind] != link.kind_value:
        return None
    key = row[link.parent_key]
    return None if key is None else str(key)
