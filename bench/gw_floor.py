"""The floor for the gateway benchmark: the same SQL through the same driver, no GraphQL.

A Starlette app (served by bench/gw_serve.py --app floor, on uvicorn like the gateway) that
answers the benchmark's request bodies (bench/gw_scenarios.py) by operationName. For each it
issues the statements the gateway issues for that operation (checked: bench/gw_run.py compares
the statement texts both servers executed), built with SQLAlchemy Core on the product's own
tables, run through `sources.engines.make_engine` (async engine, aiosqlite), one connection
checkout per statement as `resolvers.fetch.fetch` does, the linked sources concurrently. It
returns the rows as JSON of the same shape as the GraphQL answer. No token check, no grants, no
parsing or validation of GraphQL, no resolver machinery: what is left is HTTP, JSON and SQL.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections import defaultdict
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sources.engines import default_urls, make_engine
from sources.inventory import SOURCES

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from sqlalchemy import RowMapping, Select
    from sqlalchemy.ext.asyncio import AsyncEngine
    from starlette.requests import Request

PERSONS = SOURCES["persons"].table
LICENSES = SOURCES["licenses"].table
LAND = SOURCES["land"].table
ENTITIES = SOURCES["entities"].table


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _record(row: RowMapping, skip: str | None = None) -> dict[str, object]:
    return {_camel(k): _plain(v) for k, v in row.items() if k != skip}


def create_floor(data: Path) -> tuple[Starlette, dict[str, AsyncEngine]]:
    engines = {name: make_engine(url) for name, url in default_urls(data).items()}

    async def fetch(source: str, statement: Select[Any]) -> list[RowMapping]:
        async with engines[source].connect() as connection:
            result = await connection.execute(statement)
            return list(result.mappings())

    async def linked(
        source: str, columns: list[Any], by: Any, keys: list[str], order: Any, *extra: Any
    ) -> dict[str, list[RowMapping]]:
        statement = select(by, *columns).where(by.in_(set(keys)), *extra).order_by(order)
        groups: dict[str, list[RowMapping]] = defaultdict(list)
        for row in await fetch(source, statement):
            groups[row[by.name]].append(row)
        return groups

    async def person_by_id(variables: dict[str, Any]) -> dict[str, Any]:
        p = PERSONS.c
        statement = (
            select(
                p.id_number,
                p.name,
                p.gender,
                p.birth_date,
                p.ethnicity,
                p.division_code,
                p.address,
                p.status,
            )
            .where(p.id_number.in_({variables["id"]}))
            .order_by(p.id_number)
        )
        rows = await fetch("persons", statement)
        return {"person": _record(rows[0]) if rows else None}

    async def person_all_sources(variables: dict[str, Any]) -> dict[str, Any]:
        p = PERSONS.c
        statement = (
            select(p.id_number, p.name, p.birth_date, p.division_code)
            .where(p.id_number.in_({variables["id"]}))
            .order_by(p.id_number)
        )
        rows = await fetch("persons", statement)
        if not rows:
            return {"person": None}
        key = rows[0]["id_number"]
        li, la, en = LICENSES.c, LAND.c, ENTITIES.c
        licenses, land, entities = await asyncio.gather(
            linked("licenses", [li.license_number, li.kind, li.issued_on, li.valid_until,
                                li.status], li.holder_id, [key], li.license_number,
                   li.holder_kind == "person"),
            linked("land", [la.parcel_code, la.division_code, la.land_use], la.right_holder_id,
                   [key], la.parcel_code, la.right_holder_kind == "person"),
            linked("entities", [en.credit_code, en.name, en.kind, en.status],
                   en.legal_representative, [key], en.credit_code),
        )  # fmt: skip
        person = _record(rows[0])
        person["licenses"] = [_record(r, "holder_id") for r in licenses.get(key, [])]
        person["landRights"] = [_record(r, "right_holder_id") for r in land.get(key, [])]
        person["representedEntities"] = [
            _record(r, "legal_representative") for r in entities.get(key, [])
        ]
        return {"person": person}

    async def persons_page(variables: dict[str, Any]) -> dict[str, Any]:
        p = PERSONS.c
        first = 100
        statement = select(p.id_number, p.name, p.gender, p.birth_date, p.division_code)
        if variables.get("division") is not None:
            statement = statement.where(p.division_code == variables["division"])
        after = variables.get("after")
        if after is not None:
            text = base64.urlsafe_b64decode(after.encode("ascii")).decode("utf-8")
            statement = statement.where(p.id_number > text.removeprefix("v1:"))
        rows = await fetch("persons", statement.order_by(p.id_number).limit(first + 1))
        more = len(rows) > first
        rows = rows[:first]
        li = LICENSES.c
        licenses = await linked(
            "licenses", [li.license_number, li.kind, li.valid_until, li.status], li.holder_id,
            [r["id_number"] for r in rows], li.license_number, li.holder_kind == "person",
        )  # fmt: skip
        edges = []
        for row in rows:
            node = _record(row)
            node["licenses"] = [_record(r, "holder_id") for r in licenses.get(row["id_number"], [])]
            cursor = base64.urlsafe_b64encode(f"v1:{row['id_number']}".encode()).decode("ascii")
            edges.append({"cursor": cursor, "node": node})
        end = edges[-1]["cursor"] if edges else None
        page = {"hasNextPage": more, "endCursor": end}
        return {"persons": {"edges": [{"node": e["node"]} for e in edges], "pageInfo": page}}

    handlers = {
        "PersonById": person_by_id,
        "PersonAllSources": person_all_sources,
        "PersonsPage": persons_page,
    }

    async def answer(request: Request) -> Response:
        payload = json.loads(await request.body())
        data = await handlers[payload["operationName"]](payload.get("variables") or {})
        return JSONResponse({"data": data})

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            for engine in engines.values():
                await engine.dispose()

    app = Starlette(routes=[Route("/graphql", answer, methods=["POST"])], lifespan=lifespan)
    return app, engines
