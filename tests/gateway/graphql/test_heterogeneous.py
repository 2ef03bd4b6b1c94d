"""One deployment over three kinds of database: persons on PostgreSQL, legal entities on
MariaDB, land and licences on SQLite. Its answers equal the all-SQLite deployment's, query for
query, agency for agency (the same seed gives the same records everywhere)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import pytest

from gateway.http.app import create_app
from gateway.settings import Settings
from sources.engines import default_urls
from sources.synthetic.seed import seed
from tests.conftest import NOW, SMALL
from tests.gateway.conftest import InProcess, isolated

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import httpx

QUERIES = [
    ("GZ-PSB", "{ persons(first: 30) { edges { node { idNumber name gender birthDate address "
               "phone status updatedAt licenses { licenseNumber kind } "
               "representedEntities { creditCode name } landRights { parcelCode } } } } }"),
    ("GZ-AMR", "{ legalEntities(first: 30) { edges { node { creditCode name kind "
               "registeredCapital establishedOn representative { idNumber name } "
               "licenses { licenseNumber status validUntil seal { issuer valid } } } } } }"),
    ("GZ-PNR", "{ landParcels(first: 30) { edges { node { parcelCode landUse area geometry "
               "rightHolderPerson { name } rightHolderEntity { name } } } } }"),
    ("PY-TAX", "{ legalEntities(first: 50, name: \"广州\") { edges { node { creditCode name "
               "divisionCode } } pageInfo { hasNextPage endCursor } } }"),
    ("TH-CA", "{ persons(first: 20) { edges { node { name maritalStatus divisionCode } } } }"),
]  # fmt: skip


def answers(http: httpx.Client, token_for: Callable[[str], str]) -> list[Any]:
    out = []
    for agency, query in QUERIES:
        headers = {"Authorization": f"Bearer {token_for(agency)}"}
        body = http.post("/graphql", json={"query": query}, headers=headers, timeout=60).json()
        assert "errors" not in body, (agency, body)
        out.append(body["data"])
    return out


@pytest.mark.postgres
@pytest.mark.mariadb
def test_postgresql_mariadb_and_sqlite_sources_answer_exactly_as_all_sqlite(
    postgres_url: str,
    mariadb_url: str,
    seeded: Path,
    tmp_path: Path,
    live: InProcess,
    token_for: Callable[[str], str],
) -> None:
    urls = {**default_urls(tmp_path), "persons": postgres_url, "entities": mariadb_url}
    seed(SMALL, urls, workers=1)
    settings = isolated(dataclasses.replace(Settings.demo(seeded), sources=urls), tmp_path)
    expected = answers(live.client, token_for)
    assert all(expected), "every query finds records"
    with InProcess(create_app(settings, clock=lambda: NOW)) as mixed:
        assert answers(mixed.client, token_for) == expected
        ready = mixed.client.get("/readyz").json()["checks"]
    assert all(check["ok"] for check in ready.values())
