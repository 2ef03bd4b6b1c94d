"""Compiled plans answer exactly as the resolvers do: the gate for gateway/graphql/plan.

Every operation runs twice through `run_operation`, once on each path, and the two must agree
on everything a client and the audit log see: the whole response (data and errors, in order,
with their messages, locations, paths and extensions), the fields read, the records returned
(as a multiset: the resolvers note them in the order their statements happen to finish) and
the flags. Agencies: GZ-PSB (city-wide, most grants), TH-CA and PY-TAX (one district each),
GZ-AMR (entities and licences, seals in full), GZ-TAX (seals without signatures), GZ-PNR
(land), GZ-WATER (verification only) and GZ-HEALTH (few grants). On SQLite (the session's
seeded folder), PostgreSQL and MariaDB (seeded here with the same plan).
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import sqlite3
import uuid
from collections import Counter
from contextlib import closing
from typing import TYPE_CHECKING, Any

import pytest
from graphql import parse
from sqlalchemy import event, text

from gateway.graphql.execution import RequestCost, prepare_operation, run_operation
from gateway.graphql.plan import PLANS, compile_plan
from gateway.graphql.plan.links import LINKS
from gateway.graphql.schemas import AgencySchema, SchemaCache
from gateway.settings import Limits
from resolvers.context import RequestContext
from sources.engines import SourceOptions, default_urls, make_engine
from sources.inventory import BY_ENTITY, SOURCES
from sources.synthetic.seed import seed
from tests.conftest import SMALL, _admin, _mariadb_admin, _mariadb_dsn, _server_dsn, skip_or_fail
from tests.gateway.conftest import without_cost

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from sqlalchemy.ext.asyncio import AsyncEngine

    from policies.grants import Policy

# The benchmark's operations (bench/gw_scenarios.py), word for word.
PERSON_8 = "idNumber name gender birthDate ethnicity divisionCode address status"
S1 = "query PersonById($id: String!) { person(idNumber: $id) { " + PERSON_8 + " } }"
S2 = (
    "query PersonAllSources($id: String!) { person(idNumber: $id) {"
    " idNumber name birthDate divisionCode"
    " licenses { licenseNumber kind issuedOn validUntil status }"
    " landRights { parcelCode landUse divisionCode }"
    " representedEntities { creditCode name kind status } } }"
)
S3 = (
    "query PersonsPage($after: String, $division: String) {"
    " persons(first: 100, after: $after, divisionCode: $division) {"
    " edges { node { idNumber name gender birthDate divisionCode"
    " licenses { licenseNumber kind status validUntil } } }"
    " pageInfo { hasNextPage endCursor } } }"
)
CURSOR_OF_NOTHING = "bm9wZQ=="  # base64 "nope": not a cursor this gateway issued

Facts = tuple[dict[str, Any], list[str], list[tuple[str, str]], list[str]]


class Paths:
    """Both paths over one set of source engines, for any agency of the shipped policy."""

    def __init__(self, policy: Policy, engines: dict[str, AsyncEngine]) -> None:
        self.policy = policy
        self.engines = engines
        self.schemas = SchemaCache(list(policy.grants.values()))
        self.timeouts = dict.fromkeys(engines, 5.0)

    def schema(self, agency: str) -> AgencySchema:
        return self.schemas.schema_for(self.policy.grants_for(agency))

    async def answer(
        self, agency: str, query: str, variables: dict[str, Any] | None, *, plans: bool,
        operation: str | None = None,
    ) -> Facts:  # fmt: skip
        grants = self.policy.grants_for(agency)
        context = RequestContext(
            grants=grants, catalog=self.policy.catalog, policy_version=self.policy.version,
            engines=self.engines, max_page_size=100, request_id=f"req-{agency}",
            timeouts=self.timeouts,
        )  # fmt: skip
        body = {"query": query, "variables": variables, "operationName": operation}
        PLANS.enabled = plans
        try:
            schema, limits = self.schema(agency), Limits()
            prepared = prepare_operation(body, schema=schema, agency=agency,
                                         request_id=context.request_id, limits=limits)  # fmt: skip
            cost = RequestCost.of([prepared], limits, batch=False)
            answered = await run_operation(prepared, schema=schema, context=context, cost=cost)
            response, read = answered.response, answered.fields
        finally:
            PLANS.enabled = True
        answer = without_cost(response)  # both paths cost alike: the cost is the document's
        return answer, sorted(read), sorted(context.returned), sorted(context.flags)

    async def same(
        self, agency: str, query: str, variables: dict[str, Any] | None = None, *,
        operation: str | None = None, plannable: bool = True,
    ) -> Facts:  # fmt: skip
        """Run `query` on both paths; they must agree. The plan's answer.

        `plannable`: whether the operation is expected to have a plan (an operation refused by
        validation has none: it never reaches the plans)."""
        fallbacks = PLANS.fallbacks
        resolvers = await self.answer(agency, query, variables, plans=False, operation=operation)
        planned = await self.answer(agency, query, variables, plans=True, operation=operation)
        assert PLANS.fallbacks == fallbacks, f"the plan failed and the resolvers answered: {query}"
        assert planned == resolvers, query
        grants = self.policy.grants_for(agency)
        bounds = self.schema(agency).recall(query)  # validated, or None when refused
        plan = bounds and compile_plan(self.schema(agency), bounds.document, operation, grants)
        assert (plan is not None) == plannable, query
        return planned

    async def dispose(self) -> None:
        for engine in self.engines.values():
            await engine.dispose()


def _engines(urls: dict[str, str], **options: SourceOptions) -> dict[str, AsyncEngine]:
    return {name: make_engine(url, options=options.get(name)) for name, url in urls.items()}


@dataclasses.dataclass(frozen=True)
class Keys:
    """Real keys of the seeded data, for the operations below."""

    person: str
    name: str
    tianhe: str
    panyu: str
    holder: str
    linked: str
    entity_elsewhere: str
    licence: str
    district_licence: str
    parcel: str
    last_person: str


_KEYS = {
    "person": ("persons", "SELECT id_number, name FROM persons ORDER BY id_number"),
    "tianhe": ("persons", "SELECT id_number FROM persons WHERE division_code = '440106'"
                          " ORDER BY id_number"),
    "panyu": ("persons", "SELECT id_number FROM persons WHERE division_code = '440113'"
                         " ORDER BY id_number"),
    "holder": ("licenses", "SELECT holder_id FROM licenses WHERE holder_kind = 'person'"
                           " ORDER BY license_number"),
    "linked": ("land", "SELECT right_holder_id FROM land_parcels"
                       " WHERE right_holder_kind = 'person' ORDER BY parcel_code"),
    "entity_elsewhere": ("entities", "SELECT credit_code FROM legal_entities"
                                     " WHERE division_code = '440113' ORDER BY credit_code"),
    "licence": ("licenses", "SELECT license_number FROM licenses WHERE issuer_code = 'YX-AMR'"
                            " ORDER BY license_number"),
    "district_licence": ("licenses", "SELECT license_number FROM licenses"
                                     " WHERE division_code = '440106' ORDER BY license_number"),
    "parcel": ("land", "SELECT parcel_code FROM land_parcels ORDER BY parcel_code"),
    "last_person": ("persons", "SELECT id_number FROM persons ORDER BY id_number DESC"),
}  # fmt: skip


async def _keys(engines: dict[str, AsyncEngine]) -> Keys:
    found: dict[str, Any] = {}
    for name, (source, sql) in _KEYS.items():
        async with engines[source].connect() as connection:
            row = (await connection.execute(text(sql))).first()
        assert row is not None, sql
        found[name] = row[0]
        if name == "person":
            found["name"] = row[1]
    return Keys(**found)


def _cursor(key: str) -> str:
    from resolvers.arguments import cursor

    return cursor(key)


async def _the_battery(paths: Paths) -> None:
    """Every operation of the e2e tests and the benchmark, and the awkward cases, both ways."""
    k = await _keys(paths.engines)
    same = paths.same

    # -- the benchmark's operations ------------------------------------------------------------
    s1 = await same("GZ-PSB", S1, {"id": k.person}, operation="PersonById")
    assert s1[0]["data"]["person"]["idNumber"] == k.person
    await same("GZ-PSB", S2, {"id": k.holder}, operation="PersonAllSources")
    s3 = await same("GZ-PSB", S3, {"after": _cursor(k.person), "division": None})
    assert len(s3[0]["data"]["persons"]["edges"]) == 100
    await same("TH-CA", S1, {"id": k.tianhe})
    await same("TH-CA", S3, {"after": None, "division": "440106"})
    await same("GZ-HEALTH", S3, {"after": None, "division": None}, plannable=False)

    # -- what each agency reads ----------------------------------------------------------------
    readable = " ".join(paths.policy.grants_for("GZ-PSB").fields("Person"))
    await same("GZ-PSB", f'{{ person(idNumber: "{k.person}") {{ {readable} }} }}')
    await same(
        "GZ-PSB",
        "{ persons(first: 30) { edges { node { idNumber name gender birthDate"
        " address phone status updatedAt licenses { licenseNumber kind }"
        " representedEntities { creditCode name } landRights { parcelCode } } } } }",
    )
    await same(
        "GZ-AMR",
        "{ legalEntities(first: 30) { edges { node { creditCode name kind"
        " registeredCapital establishedOn updatedAt representative { idNumber name }"
        " licenses { licenseNumber status validUntil"
        " seal { issuer algorithm keyId signature valid } } } } } }",
    )
    await same("GZ-AMR", f'{{ person(idNumber: "{k.holder}") {{ name }} }}')
    await same("GZ-AMR", f'{{ person(idNumber: "{k.holder}") {{ name phone }} }}', plannable=False)
    await same("GZ-PNR", "{ landParcels(first: 30) { edges { node { parcelCode landUse area"
               " geometry registeredOn rightHolderPerson { name } rightHolderEntity { name } } } }"
               " }")  # fmt: skip
    await same("GZ-PNR", f'{{ landParcel(parcelCode: "{k.parcel}") {{ parcelCode geometry }} }}')
    await same(
        "GZ-TAX",
        "{ licenses(first: 100) { edges { node { licenseNumber kind issuerCode"
        " issuedOn validUntil status seal { issuer algorithm valid }"
        " issuer { code name level division kind duties __typename } } } } }",
    )
    await same("GZ-TAX", f'{{ license(licenseNumber: "{k.licence}") {{ kind seal {{ valid }} }} }}')
    await same("GZ-HEALTH", f'{{ person(idNumber: "{k.person}") {{ name }} }}')
    await same(
        "PY-TAX",
        '{ legalEntities(first: 50, name: "广州") { edges { node { creditCode'
        " name divisionCode } } pageInfo { hasNextPage endCursor } } }",
    )
    await same(
        "PY-TAX",
        "{ legalEntities(first: 100) { edges { node { divisionCode } } }"
        " landParcels(first: 100) { edges { node { divisionCode } } } }",
    )

    # -- district scope (Art. 21): outside is exactly like missing ---------------------------
    query = "query($id: String!) { person(idNumber: $id) { name maritalStatus divisionCode } }"
    inside = await same("TH-CA", query, {"id": k.tianhe})
    assert inside[0]["data"]["person"]["divisionCode"] == "440106"
    outside = await same("TH-CA", query, {"id": k.panyu})
    missing = await same("TH-CA", query, {"id": "11010519491231002X"})
    assert outside[0] == missing[0] == {"data": {"person": None}}
    await same("TH-CA", "{ persons(first: 100) { edges { node { divisionCode } } } }")
    query = "query($c: String!) { legalEntity(creditCode: $c) { name legalRepresentative" \
            " representative { name } } }"  # fmt: skip
    await same("PY-TAX", query, {"c": k.entity_elsewhere})
    await same("GZ-TAX", query, {"c": k.entity_elsewhere})
    await same(
        "TH-CA",
        f'{{ license(licenseNumber: "{k.district_licence}") {{ kind holderPerson'
        " { name } holderEntity { name } } }",
    )

    # -- verification (Art. 24) ----------------------------------------------------------------
    query = "query($id: String!, $n: String) { verifyPerson(idNumber: $id, name: $n) {" \
            " match checked __typename } }"  # fmt: skip
    assert (await same("GZ-WATER", query, {"id": k.person, "n": k.name}))[0]["data"] == {
        "verifyPerson": {"match": True, "checked": ["name"], "__typename": "Verification"}
    }
    await same("GZ-WATER", query, {"id": k.person, "n": k.name + "X"})
    await same("GZ-WATER", query, {"id": "11010519491231002X", "n": k.name})
    invalid = await same("GZ-WATER", query, {"id": "11010519491231002Y", "n": k.name})
    assert invalid[0]["data"] is None
    assert invalid[0]["errors"][0]["extensions"]["code"] == "INVALID_IDENTIFIER"
    nothing = await same("GZ-WATER", query, {"id": k.person, "n": None})
    assert nothing[0]["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    await same(
        "GZ-WATER",
        f'{{ a: verifyPerson(idNumber: "{k.person}", name: "{k.name}")'
        f' {{ match }} b: verifyPerson(idNumber: "{k.panyu}", name: "x") {{ checked }} }}',
    )
    await same(
        "GZ-PSB",
        f'{{ verifyPerson(idNumber: "{k.tianhe}", birthDate: "1990-01-01",'
        f' status: "living") {{ match checked }} }}',
    )
    await same(
        "TH-CA",
        f'{{ verifyPerson(idNumber: "{k.panyu}", name: "{k.name}") {{ match }}'
        f' person(idNumber: "{k.panyu}") {{ name }} }}',
    )

    # -- aliases, fragments, inline fragments, __typename, directives --------------------------
    await same("GZ-PSB", (
        "query Q($id: String!, $other: String!) { __typename"
        " a: person(idNumber: $id) { ...P ... on Person { __typename n2: name } }"
        " b: person(idNumber: $other) { name ...P }"
        " c: person(idNumber: $id) { licenses { kind } licenses { status __typename } } }"
        " fragment P on Person { idNumber name licenses { ...L } }"
        " fragment L on License { kind k2: kind holderPerson { idNumber } }"
    ), {"id": k.holder, "other": k.person})  # fmt: skip
    await same(
        "GZ-PSB",
        f'{{ person(idNumber: "{k.person}") {{ name @skip(if: true)'
        " gender @include(if: false) address @include(if: true) licenses @skip(if: false)"
        " { kind } } }",
    )
    await same(
        "GZ-PSB",
        "query($no: Boolean!) { persons(first: 1) { edges { node { name"
        " education @include(if: $no) } } } }",
        {"no": False},
        plannable=False,
    )
    await same(
        "GZ-PSB",
        "{ persons(first: 3) { __typename a: edges { cursor __typename }"
        " b: edges { node { name l: licenses { kind } } } pageInfo { __typename"
        " hasNextPage } p2: pageInfo { endCursor } } }",
    )
    await same(
        "GZ-PSB",
        f'{{ ...Q }} fragment Q on Query {{ person(idNumber: "{k.person}")'
        " { name } persons(first: 2) { edges { node { name } } } }",
    )
    two = "query A { persons(first: 1) { edges { node { name } } } } query B { __typename }"
    await same("GZ-PSB", two, operation="A")
    await same("GZ-PSB", two, operation="B")
    await same("GZ-PSB", two, plannable=False)
    await same("GZ-PSB", "{ me { policyVersion } persons(first: 1) { edges { cursor } } }",
               plannable=False)  # fmt: skip

    # -- identifiers and arguments -------------------------------------------------------------
    for agency, query in [
        ("GZ-PSB", '{ person(idNumber: "11010519491231002Y") { name } }'),
        ("GZ-PSB", '{ person(idNumber: "1101051949") { name } }'),
        ("GZ-AMR", '{ legalEntity(creditCode: "91350100M000100Y44") { name } }'),
        ("GZ-PNR", '{ landParcel(parcelCode: "44010600300AGB00012") { parcelCode } }'),
        ("GZ-AMR", '{ license(licenseNumber: "XX-440106-2020-000001-3") { kind } }'),
        ("GZ-PSB", '{ persons(divisionCode: "4401") { edges { node { name } } } }'),
        (
            "GZ-PSB",
            f'{{ a: person(idNumber: "11010519491231002Y") {{ name }}'
            f' b: person(idNumber: "{k.person}") {{ name }}'
            f' c: persons(after: "{CURSOR_OF_NOTHING}") {{ edges {{ cursor }} }} }}',
        ),
    ]:
        answer = await same(agency, query)
        assert answer[0]["errors"], query
    await same("GZ-PSB", "query($id: String!) { person(idNumber: $id) { name } }",
               {"id": " " + k.person.lower() + " "})  # fmt: skip
    for query, variables in [
        ("{ persons(first: 1000) { edges { node { name } } } }", None),
        ("{ persons(first: 0) { edges { node { name } } } }", None),
        ('{ persons(name: " ") { edges { node { name } } } }', None),
        ("query($n: Int!) { persons(first: $n) { edges { cursor } } }", {"n": "x"}),
        ("query($n: Int!) { persons(first: $n) { edges { cursor } } }", {}),
        ("query($n: Int) { persons(first: $n) { edges { cursor } } }", {"n": None}),
        ("query($id: String!) { person(idNumber: $id) { name } }", {"id": 5}),
    ]:
        await same("GZ-PSB", query, variables)
    box = {"minLon": 113.30, "minLat": 23.10, "maxLon": 113.37, "maxLat": 23.17}
    query = "query($b: BoundingBox!) { landParcels(first: 100, bbox: $b) {" \
            " edges { node { parcelCode } } } }"  # fmt: skip
    assert (await same("GZ-PNR", query, {"b": box}))[0]["data"]["landParcels"]["edges"]
    await same("GZ-PNR", query, {"b": {**box, "minLon": 113.5}})
    names = "query($n: String) { persons(first: 5, name: $n) { edges { node { name } } } }"
    for name in ("王", "王_%", "广州\\", " 李 "):  # LIKE's own characters are escaped
        await same("GZ-PSB", names, {"n": name})
    await same(
        "GZ-PNR",
        '{ landParcels(first: 5, landUse: "residential", divisionCode: "440106")'
        " { edges { node { parcelCode landUse } } } }",
    )
    await same(
        "GZ-AMR",
        '{ licenses(first: 5, kind: "business licence", status: "valid") {'
        " edges { node { licenseNumber kind status } } } }",
    )

    # -- pages and cursors ---------------------------------------------------------------------
    query = (
        'query($after: String) { persons(first: 7, after: $after, divisionCode: "440105") {'
        " edges { cursor node { idNumber } } pageInfo { hasNextPage endCursor } } }"
    )
    after = None
    for _ in range(3):
        page = await same("GZ-PSB", query, {"after": after})
        after = page[0]["data"]["persons"]["pageInfo"]["endCursor"]
    empty = await same("GZ-PSB", "query($after: String) { persons(first: 5, after: $after) {"
                       " edges { node { name } } pageInfo { hasNextPage endCursor } } }",
                       {"after": _cursor(k.last_person)})  # fmt: skip
    assert empty[0]["data"]["persons"] == {
        "edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}
    }  # fmt: skip
    await same("GZ-PSB", '{ persons(name: "zzzz") { edges { node { name } } } }')
    await same("GZ-PSB", "{ persons(first: 4) { pageInfo { hasNextPage } } }")


@pytest.fixture
def sqlite_paths(policy: Policy, seeded: Path) -> Paths:
    return Paths(policy, _engines(default_urls(seeded)))


async def test_the_plan_path_answers_every_operation_as_the_resolvers_do_on_sqlite(
    sqlite_paths: Paths,
) -> None:
    try:
        await _the_battery(sqlite_paths)
    finally:
        await sqlite_paths.dispose()


def test_every_link_of_the_record_types_is_known_to_the_plans(policy: Policy) -> None:
    # A link added to resolvers.records without its line in gateway/graphql/plan/links.py would
    # only be slower (its operations stay on the resolvers), but it should not go unnoticed.
    schema = AgencySchema(policy.grants_for("GZ-PSB"))._schema
    for entity, source in BY_ENTITY.items():
        inventory = {spec.name for spec in source.fields}
        links = set(schema.get_type(entity).fields) - inventory - {"issuer"}  # type: ignore[union-attr]
        assert links == {name for (owner, name) in LINKS if owner == entity}, entity
    assert all(spec.source in SOURCES for spec in LINKS.values())


# -- statements: a constant number per request ---------------------------------------------------


def _counting(engines: dict[str, AsyncEngine]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for name, engine in engines.items():

        def count(*_: Any, name: str = name) -> None:
            counts[name] += 1

        event.listen(engine.sync_engine, "before_cursor_execute", count)
    return counts


async def test_a_plan_runs_the_same_statements_for_5_records_as_for_100(
    sqlite_paths: Paths,
) -> None:
    counts = _counting(sqlite_paths.engines)
    query = (
        "query($n: Int!) { persons(first: $n) { edges { node { name licenses { kind seal"
        " { valid } holderPerson { name } issuer { code } } representedEntities { name"
        " representative { name } } landRights { parcelCode rightHolderPerson { name } } } } } }"
    )
    seen = []
    try:
        for size in (5, 100):
            counts.clear()
            answer = await sqlite_paths.answer("GZ-PSB", query, {"n": size}, plans=True)
            assert len(answer[0]["data"]["persons"]["edges"]) == size
            seen.append(dict(counts))
    finally:
        await sqlite_paths.dispose()
    # The page; each link one statement per level (licences with their registry joined), and
    # the persons again for the licences' holders, the entities' representatives and the
    # parcels' holders: one statement for all three, as they ask the same of the same source.
    assert seen[0] == seen[1] == {"persons": 2, "licenses": 1, "entities": 1, "land": 1}


async def test_aliases_of_one_look_up_cost_one_statement(sqlite_paths: Paths) -> None:
    counts = _counting(sqlite_paths.engines)
    keys = await _keys(sqlite_paths.engines)
    people = [keys.person, keys.tianhe, keys.panyu] * 8
    aliases = " ".join(
        f'a{i}: person(idNumber: "{key}") {{ name licenses {{ kind }} }}'
        for i, key in enumerate(people)
    )
    try:
        await sqlite_paths.same("GZ-PSB", f"{{ {aliases} }}")
        counts.clear()
        await sqlite_paths.answer("GZ-PSB", f"{{ {aliases} }}", None, plans=True)
    finally:
        await sqlite_paths.dispose()
    assert dict(counts) == {"persons": 1, "licenses": 1}


# -- outages (Art. 20) ---------------------------------------------------------------------------


async def test_a_source_that_is_down_nulls_its_fields_alike_on_both_paths(
    policy: Policy, seeded: Path, tmp_path: Path
) -> None:
    urls = default_urls(seeded)
    # A folder that does not exist: SQLite cannot open the file, as a server that is down.
    gone = f"sqlite+aiosqlite:///{tmp_path / 'gone' / 'x.db'}"
    keys_from = _engines(urls)
    keys = await _keys(keys_from)
    for engine in keys_from.values():
        await engine.dispose()
    for down in ("persons", "licenses"):
        paths = Paths(policy, _engines({**urls, down: gone}))
        try:
            outage = await paths.same(
                "GZ-PSB", "{ persons(first: 3) { edges { node { name licenses { kind } } } }"
                " licenses(first: 2) { edges { node { licenseNumber } } } }",
            )  # fmt: skip
            codes = [e["extensions"]["code"] for e in outage[0]["errors"]]
            assert codes == ["SOURCE_UNAVAILABLE"] * (1 if down == "persons" else 4)
            assert f"({down})" in outage[0]["errors"][0]["message"]
            await paths.same("GZ-PSB", S2, {"id": keys.holder})
            await paths.same(
                "GZ-WATER",
                f'{{ verifyPerson(idNumber: "{keys.person}", name: "{keys.name}") {{ match }} }}',
            )
        finally:
            await paths.dispose()


# -- seals (Art. 23) -----------------------------------------------------------------------------


async def test_seals_that_do_not_hold_are_flagged_alike_on_both_paths(
    policy: Policy, seeded: Path, tmp_path: Path
) -> None:
    for name in SOURCES:
        shutil.copy(seeded / f"{name}.db", tmp_path / f"{name}.db")
    with closing(sqlite3.connect(tmp_path / "licenses.db")) as db:
        numbers = [r[0] for r in db.execute(
            "SELECT license_number FROM licenses ORDER BY license_number LIMIT 3")]  # fmt: skip
        db.execute("UPDATE licenses SET kind = kind || ' (amended)' WHERE license_number = ?",
                   (numbers[0],))  # fmt: skip
        db.execute("UPDATE licenses SET seal_key_id = 'GZ-AMR:ffffffffffffffff'"
                   " WHERE license_number = ?", (numbers[1],))  # fmt: skip
        db.commit()
    paths = Paths(policy, _engines(default_urls(tmp_path)))
    try:
        page = await paths.same("GZ-AMR", "{ licenses(first: 5) { edges { node { licenseNumber"
                                " seal { issuer valid } again: seal { keyId } } } } }")  # fmt: skip
        assert page[3] == [f"seal-invalid:License:{n}" for n in sorted(numbers[:2])]
        await paths.same(
            "GZ-TAX",
            f'{{ a: license(licenseNumber: "{numbers[0]}") {{ seal'
            f' {{ valid }} }} b: license(licenseNumber: "{numbers[1]}") {{ seal'
            " { issuer algorithm } } }",
        )
    finally:
        await paths.dispose()


# -- PostgreSQL and MariaDB ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres_sources() -> Iterator[str]:
    """One PostgreSQL database holding all four sources, seeded once for this module."""
    name = f"govgate_plans_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, TimeoutError) as error:
        skip_or_fail(f"PostgreSQL is not reachable at {_server_dsn()} ({error})")
    base = _server_dsn().rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    url = f"{base}/{name}"
    try:
        seed(SMALL, dict.fromkeys(SOURCES, url), workers=1)
        yield url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.mark.postgres
async def test_the_plan_path_answers_every_operation_as_the_resolvers_do_on_postgresql(
    policy: Policy, postgres_sources: str
) -> None:
    paths = Paths(policy, _engines(dict.fromkeys(SOURCES, postgres_sources)))
    try:
        await _the_battery(paths)
    finally:
        await paths.dispose()


@pytest.mark.postgres
async def test_a_postgresql_source_that_is_down_nulls_its_fields_alike_on_both_paths(
    policy: Policy, postgres_sources: str, seeded: Path
) -> None:
    closed = postgres_sources.replace("127.0.0.1:5432", "127.0.0.1:1")
    urls = {**default_urls(seeded), "persons": postgres_sources, "licenses": closed}
    options = SourceOptions(connect_timeout_s=1)
    paths = Paths(policy, _engines(urls, licenses=options))
    try:
        answer = await paths.same("GZ-PSB", "{ persons(first: 3) { edges { node { name"
                                  " licenses { kind } } } } licenses(first: 1) { edges { cursor"
                                  " } } }")  # fmt: skip
        # One error per place the source feeds: the root field first (its statement fails
        # first), then each person's licences.
        assert [e["path"] for e in answer[0]["errors"]] == [
            ["licenses"],
            ["persons", "edges", 0, "node", "licenses"],
            ["persons", "edges", 1, "node", "licenses"],
            ["persons", "edges", 2, "node", "licenses"],
        ]
    finally:
        await paths.dispose()


@pytest.fixture(scope="module")
def mariadb_sources() -> Iterator[str]:
    """One MariaDB database holding all four sources, seeded once for this module."""
    from asyncmy.errors import OperationalError
    from sqlalchemy.engine import make_url

    name = f"govgate_plans_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_mariadb_admin(f"CREATE DATABASE `{name}`"))
    except (OSError, TimeoutError, OperationalError) as error:
        skip_or_fail(f"MariaDB is not reachable at {_mariadb_dsn()} ({error})")
    url = make_url(_mariadb_dsn()).set(drivername="mysql+asyncmy", database=name)
    rendered = url.render_as_string(hide_password=False)
    try:
        seed(SMALL, dict.fromkeys(SOURCES, rendered), workers=1)
        yield rendered
    finally:
        asyncio.run(_mariadb_admin(f"DROP DATABASE IF EXISTS `{name}`"))


@pytest.mark.mariadb
async def test_the_plan_path_answers_every_operation_as_the_resolvers_do_on_mariadb(
    policy: Policy, mariadb_sources: str
) -> None:
    paths = Paths(policy, _engines(dict.fromkeys(SOURCES, mariadb_sources)))
    try:
        await _the_battery(paths)
    finally:
        await paths.dispose()


@pytest.mark.mariadb
async def test_a_mariadb_source_that_is_down_nulls_its_fields_alike_on_both_paths(
    policy: Policy, mariadb_sources: str, seeded: Path
) -> None:
    closed = mariadb_sources.replace("127.0.0.1:3306", "127.0.0.1:1")
    assert closed != mariadb_sources
    urls = {**default_urls(seeded), "entities": mariadb_sources, "licenses": closed}
    paths = Paths(policy, _engines(urls, licenses=SourceOptions(connect_timeout_s=1)))
    try:
        answer = await paths.same("GZ-AMR", "{ legalEntities(first: 3) { edges { node { name"
                                  " licenses { kind } } } } }")  # fmt: skip
        assert [e["extensions"]["code"] for e in answer[0]["errors"]] == ["SOURCE_UNAVAILABLE"] * 3
    finally:
        await paths.dispose()


# -- verification limits (Art. 24, 34(4)) --------------------------------------------------------


async def test_verifications_that_are_rate_limited_are_never_answered_by_a_plan(
    policy: Policy, seeded: Path
) -> None:
    from gateway.graphql.plan import planned

    engines = _engines(default_urls(seeded))
    keys = await _keys(engines)
    query = f'{{ verifyPerson(idNumber: "{keys.person}", name: "{keys.name}") {{ match }} }}'
    grants = policy.grants_for("GZ-WATER")
    schema = SchemaCache([grants]).schema_for(grants)
    document = parse(query)

    def context() -> RequestContext:
        return RequestContext(grants=grants, catalog=policy.catalog, engines=engines,
                              policy_version=policy.version, max_page_size=100,
                              request_id="req-limits")  # fmt: skip

    try:
        free = await planned(query, document, None, None, schema=schema, context=context())
        assert free is not None
        assert free.data == {"verifyPerson": {"match": True}}
        limited = context()
        # Where the gateway counts verifications per subject, the resolver does the counting:
        # the plan steps aside rather than be a way around the limit.
        limited.verification_limits = object()  # type: ignore[assignment]
        assert await planned(query, document, None, None, schema=schema, context=limited) is None
    finally:
        for engine in engines.values():
            await engine.dispose()
