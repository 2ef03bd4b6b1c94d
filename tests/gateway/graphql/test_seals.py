"""Licence seals are checked on every read (Art. 23, 24), over real HTTP and real databases.

Tampering happens in a copy of the seeded databases, served by a gateway of its own: the shared
session-scoped data stays untouched.
"""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import create_engine, select

from gateway.graphql.schemas import AgencySchema
from gateway.http.app import create_app
from gateway.identity.dev_keys import dev_signing_key, issue_token
from gateway.settings import Settings
from resolvers.context import RequestContext
from resolvers.records import License, make_record
from sources.engines import default_urls, make_engine
from sources.inventory import SOURCES
from sources.licenses import licenses
from sources.seal import ALGORITHM, issuer_key, seal
from tests.conftest import NOW, SMALL
from tests.gateway.conftest import InProcess

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from policies.catalog import Catalog
    from policies.grants import Policy
    from tests.gateway.conftest import Ask

#: Every field of a seal.
SEAL = "seal { issuer algorithm keyId signature valid }"
#: What an agency that may not read every sealed field may ask of a seal.
PLAIN_SEAL = "seal { issuer algorithm valid }"
#: A key id that claims GZ-AMR, registered (in the tampered copy) as GZ-PSB's key.
MISNAMED_KEY_ID = "GZ-AMR:ffffffffffffffff"
#: Reads every licence field GZ-TAX is granted: not holderKind, holderId or divisionCode.
TAX_FIELDS = f"licenseNumber kind issuerCode issuedOn validUntil status {PLAIN_SEAL}"


def rows(folder: Path, sql: str, *args: object) -> list[sqlite3.Row]:
    with closing(sqlite3.connect(folder / "licenses.db")) as db:
        db.row_factory = sqlite3.Row
        return db.execute(sql, args).fetchall()


def first(folder: Path, sql: str, *args: object) -> Any:
    found = rows(folder, sql, *args)
    assert found, sql
    return found[0][0]


# -- untouched licences ------------------------------------------------------------------------


def test_an_untouched_licence_read_by_number_has_a_valid_seal_of_its_issuer(
    ask: Ask, seeded: Path
) -> None:
    # A district issuer, so the issuer cannot be right by accident of a city-wide default.
    number, issuer, key_id = rows(
        seeded,
        "SELECT license_number, issuer_code, seal_key_id FROM licenses "
        "WHERE issuer_code = 'YX-AMR' LIMIT 1",
    )[0]
    answer = ask("GZ-TAX", f'{{ license(licenseNumber: "{number}") {{ {TAX_FIELDS} }} }}')
    assert "errors" not in answer
    assert answer["data"]["license"]["seal"] == {
        "issuer": issuer, "algorithm": ALGORITHM, "valid": True
    }  # fmt: skip
    # GZ-AMR may read every sealed field, so it may see the signature itself.
    full = ask("GZ-AMR", f'{{ license(licenseNumber: "{number}") {{ {SEAL} }} }}')
    assert full["data"]["license"]["seal"] == {
        "issuer": issuer,
        "algorithm": ALGORITHM,
        "keyId": key_id,
        "signature": first(seeded, "SELECT seal_signature FROM licenses WHERE license_number = ?",
                           number),
        "valid": True,
    }  # fmt: skip


def test_every_licence_of_an_untouched_page_has_a_valid_seal_of_its_issuer(ask: Ask) -> None:
    answer = ask("GZ-TAX", f"{{ licenses(first: 100) {{ edges {{ node {{ {TAX_FIELDS} }} }} }} }}")
    assert "errors" not in answer
    nodes = [edge["node"] for edge in answer["data"]["licenses"]["edges"]]
    assert len(nodes) == 100
    assert all(node["seal"]["valid"] for node in nodes)
    assert all(node["seal"]["issuer"] == node["issuerCode"] for node in nodes)
    assert len({node["issuerCode"] for node in nodes}) > 1  # not one issuer for all by chance


def test_seals_of_licences_reached_through_a_link_are_checked_too(ask: Ask) -> None:
    answer = ask("GZ-PSB", "{ persons(first: 50) { edges { node { licenses {"
                 " issuerCode seal { issuer valid } } } } } }")  # fmt: skip
    assert "errors" not in answer
    seals = [
        (licence["issuerCode"], licence["seal"])
        for edge in answer["data"]["persons"]["edges"]
        for licence in edge["node"]["licenses"]
    ]
    assert seals
    assert all(s == {"issuer": issuer, "valid": True} for issuer, s in seals)


# -- efficiency --------------------------------------------------------------------------------


def test_a_page_of_licences_with_seals_costs_a_constant_number_of_statements(
    ask: Ask, live: InProcess
) -> None:
    query = "query($n: Int!) { licenses(first: $n) { edges { node { licenseNumber" \
            " seal { issuer valid } } } } }"  # fmt: skip
    counts = []
    for size in (5, 100):
        live.statements.clear()
        answer = ask("GZ-TAX", query, n=size)
        assert "errors" not in answer
        assert len(answer["data"]["licenses"]["edges"]) == size
        counts.append(dict(live.statements))
    # The page, with the seal registry joined to it (gateway/graphql/plan: one statement; the
    # resolver path spends a second on the registry for all of the page's keys).
    assert counts[0] == counts[1] == {"licenses": 1}


def test_seals_under_a_page_of_persons_cost_one_registry_look_up(ask: Ask, live: InProcess) -> None:
    query = "query($n: Int!) { persons(first: $n) { edges { node { name" \
            " licenses { seal { valid } } } } } }"  # fmt: skip
    counts = []
    for size in (5, 100):
        live.statements.clear()
        ask("GZ-PSB", query, n=size)
        counts.append(dict(live.statements))
    assert counts[0] == counts[1] == {"persons": 1, "licenses": 1}  # the registry joined


# -- fields the agency is not granted ----------------------------------------------------------


def test_an_agency_reading_seals_still_cannot_read_the_holder(ask: Ask, seeded: Path) -> None:
    number, holder = rows(seeded, "SELECT license_number, holder_id FROM licenses LIMIT 1")[0]
    refused = ask("GZ-TAX", f'{{ license(licenseNumber: "{number}") {{ {PLAIN_SEAL} holderId }} }}')
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN_FIELD"]
    assert "holderId" in refused["errors"][0]["message"]
    # The check reads holder_id from the database, but nothing of it reaches the answer.
    answer = ask("GZ-TAX", f'{{ license(licenseNumber: "{number}") {{ {TAX_FIELDS} }} }}')
    assert answer["data"]["license"]["seal"]["valid"] is True
    assert holder not in str(answer)


def test_the_signature_is_kept_from_agencies_that_may_not_read_every_sealed_field(
    ask: Ask, seeded: Path
) -> None:
    # With the issuer's public key, the signature would let GZ-TAX test guesses of holderId
    # offline; the gateway vouches for the seal (`valid`) instead.
    number = first(seeded, "SELECT license_number FROM licenses LIMIT 1")
    for field in ("signature", "keyId"):
        refused = ask(
            "GZ-TAX", f'{{ license(licenseNumber: "{number}") {{ seal {{ {field} }} }} }}'
        )
        assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN_FIELD"]
    shown = ask("GZ-AMR", f'{{ license(licenseNumber: "{number}") {{ seal {{ signature }} }} }}')
    assert shown["data"]["license"]["seal"]["signature"]


def test_a_record_built_from_a_row_with_columns_for_the_seal_check_sets_only_granted_fields(
    seeded: Path, policy: Policy, catalog: Catalog
) -> None:
    engine = create_engine(f"sqlite:///{seeded / 'licenses.db'}")
    try:
        with engine.connect() as connection:
            row = connection.execute(select(licenses).limit(1)).mappings().one()
    finally:
        engine.dispose()

    def record(agency: str) -> Any:
        grants = policy.grants[agency]
        ctx = RequestContext(grants=grants, catalog=catalog, policy_version="test",
                             engines={}, max_page_size=100, request_id="test")  # fmt: skip
        return make_record(License, row, ctx)

    assert record("GZ-AMR").holder_id == row["holder_id"]
    tax = record("GZ-TAX")
    assert tax.kind == row["kind"]
    assert (tax.holder_id, tax.holder_kind, tax.division_code) == (None, None, None)


# -- licences changed behind the gateway's back ------------------------------------------------


class Tampered:
    """A gateway over a tampered copy of the seeded data, and tokens for it."""

    def __init__(self, folder: Path, server: InProcess) -> None:
        self.folder = folder
        self.server = server
        self.key = dev_signing_key(folder)

    def ask(self, agency: str, query: str) -> dict[str, Any]:
        token = issue_token(self.key, agency=agency)
        response = self.server.client.post(
            "/graphql",
            json={"query": query},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def seal_of(self, agency: str, number: str) -> dict[str, Any]:
        seal = PLAIN_SEAL if agency == "GZ-TAX" else SEAL
        answer = self.ask(agency, f'{{ license(licenseNumber: "{number}") {{ {seal} }} }}')
        assert "errors" not in answer, answer
        found: dict[str, Any] = answer["data"]["license"]["seal"]
        return found


def tamper(folder: Path) -> dict[str, str]:
    """Change licences in `folder` as anyone with database access could; numbers by change."""
    picked: dict[str, str] = {}
    with closing(sqlite3.connect(folder / "licenses.db")) as db:
        db.row_factory = sqlite3.Row

        def take(why: str, where: str) -> sqlite3.Row:
            taken = tuple(picked.values()) or ("",)
            marks = ",".join("?" * len(taken))
            row: sqlite3.Row = db.execute(
                f"SELECT * FROM licenses WHERE {where} AND license_number NOT IN ({marks}) "
                "ORDER BY license_number LIMIT 1",
                taken,
            ).fetchone()
            assert row is not None, where
            picked[why] = row["license_number"]
            return row

        def update(why: str, assignments: str, *values: object) -> None:
            db.execute(f"UPDATE licenses SET {assignments} WHERE license_number = ?",
                       (*values, picked[why]))  # fmt: skip

        take("revived", "status = 'revoked'")
        update("revived", "status = 'valid'")
        take("extended", "valid_until IS NOT NULL")
        update("extended", "valid_until = '2099-12-31'")
        take("holder", "holder_kind = 'person'")
        other = db.execute(
            "SELECT holder_id FROM licenses WHERE holder_kind = 'person' AND holder_id != ?",
            (db.execute("SELECT holder_id FROM licenses WHERE license_number = ?",
                        (picked["holder"],)).fetchone()[0],),
        ).fetchone()[0]  # fmt: skip
        update("holder", "holder_id = ?", other)
        take("unknown_key", "issuer_code = 'GZ-AMR'")
        update("unknown_key", "seal_key_id = 'GZ-FORGED:0000000000000000'")
        # Signed for real, by a key in the registry, but not the issuer's.
        row = take("other_agency", "issuer_code = 'GZ-AMR'")
        psb = issuer_key("GZ-PSB", seed=SMALL.seed)
        update("other_agency", "seal_key_id = ?, seal_signature = ?", psb.key_id,
               seal(dict(row), psb))  # fmt: skip
        # A key registered for GZ-PSB under an id that claims GZ-AMR: the registry decides.
        row = take("misnamed_key", "issuer_code = 'GZ-AMR'")
        db.execute(
            "INSERT INTO issuer_keys (key_id, issuer_code, algorithm, public_key)"
            " VALUES (?, 'GZ-PSB', ?, ?)",
            (MISNAMED_KEY_ID, ALGORITHM, psb.public_key_b64),
        )
        update("misnamed_key", "seal_key_id = ?, seal_signature = ?", MISNAMED_KEY_ID,
               seal(dict(row), psb))  # fmt: skip
        # Revoked and sealed again by its own issuer, as a lawful change is: the seal holds.
        row = take("reissued", "issuer_code = 'GZ-HOUSING' AND status = 'valid'")
        changed = {**dict(row), "status": "revoked"}
        update("reissued", "status = 'revoked', seal_signature = ?",
               seal(changed, issuer_key("GZ-HOUSING", seed=SMALL.seed)))  # fmt: skip
        db.commit()
    return picked


@pytest.fixture(scope="module")
def tampered_folder(seeded: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the seeded source databases (only those: not the shared audit log or keys)."""
    folder = tmp_path_factory.mktemp("tampered")
    for name in SOURCES:
        shutil.copyfile(seeded / f"{name}.db", folder / f"{name}.db")
    return folder


@pytest.fixture(scope="module")
def changed(tampered_folder: Path) -> dict[str, str]:
    return tamper(tampered_folder)


@pytest.fixture(scope="module")
def tampered(tampered_folder: Path, changed: dict[str, str]) -> Iterator[Tampered]:
    app = create_app(Settings.demo(tampered_folder), clock=lambda: NOW)
    with InProcess(app) as server:
        yield Tampered(tampered_folder, server)


@pytest.mark.parametrize("why", ["revived", "extended", "holder"])
def test_a_licence_changed_in_its_database_shows_an_invalid_seal(
    tampered: Tampered, changed: dict[str, str], why: str
) -> None:
    # GZ-TAX may not read holder_id, yet a changed holder breaks the seal it sees.
    found = tampered.seal_of("GZ-TAX", changed[why])
    assert found["valid"] is False
    assert found["issuer"] == first(
        tampered.folder, "SELECT issuer_code FROM licenses WHERE license_number = ?", changed[why]
    )


def test_walking_every_page_finds_exactly_the_changed_licences_invalid(
    tampered: Tampered, changed: dict[str, str]
) -> None:
    invalid: set[str] = set()
    seen, after = 0, None
    while True:
        cursor = "" if after is None else f', after: "{after}"'
        answer = tampered.ask("GZ-AMR", f"{{ licenses(first: 100{cursor}) {{ edges {{ node {{"
                              " licenseNumber seal { valid } } } pageInfo { hasNextPage"
                              " endCursor } } }")  # fmt: skip
        page = answer["data"]["licenses"]
        seen += len(page["edges"])
        invalid |= {
            e["node"]["licenseNumber"] for e in page["edges"] if not e["node"]["seal"]["valid"]
        }
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == first(tampered.folder, "SELECT count(*) FROM licenses")
    assert invalid == set(changed.values()) - {changed["reissued"]}


def test_a_seal_whose_key_the_registry_does_not_know_is_invalid_and_claims_its_issuer(
    tampered: Tampered, changed: dict[str, str]
) -> None:
    found = tampered.seal_of("GZ-AMR", changed["unknown_key"])
    assert found["valid"] is False
    assert found["keyId"] == "GZ-FORGED:0000000000000000"
    assert found["issuer"] == "GZ-FORGED"


def test_a_seal_by_another_agencys_registered_key_is_invalid_and_names_that_agency(
    tampered: Tampered, changed: dict[str, str]
) -> None:
    found = tampered.seal_of("GZ-TAX", changed["other_agency"])
    assert found["issuer"] == "GZ-PSB"
    assert found["valid"] is False


def test_the_seal_registry_not_the_key_id_names_the_issuer(
    tampered: Tampered, changed: dict[str, str]
) -> None:
    found = tampered.seal_of("GZ-AMR", changed["misnamed_key"])
    assert found["keyId"] == MISNAMED_KEY_ID
    assert found["issuer"] == "GZ-PSB"
    assert found["valid"] is False


def test_a_licence_sealed_again_by_its_issuer_after_a_change_is_valid(
    tampered: Tampered, changed: dict[str, str]
) -> None:
    assert tampered.seal_of("GZ-TAX", changed["reissued"])["valid"] is True


async def test_each_licence_with_an_invalid_seal_is_flagged_once_for_the_audit_log(
    tampered_folder: Path, changed: dict[str, str], policy: Policy, catalog: Catalog
) -> None:
    # In process: the flags are in the request context, which HTTP does not show.
    engines = {name: make_engine(url) for name, url in default_urls(tampered_folder).items()}
    grants = policy.grants["GZ-TAX"]
    ctx = RequestContext(grants=grants, catalog=catalog, policy_version="test",
                         engines=engines, max_page_size=100, request_id="test")  # fmt: skip
    revived, reissued = changed["revived"], changed["reissued"]
    query = f"""{{
        a: license(licenseNumber: "{revived}") {{ seal {{ valid }} }}
        b: license(licenseNumber: "{revived}") {{ seal {{ algorithm }} }}
        c: license(licenseNumber: "{reissued}") {{ seal {{ valid }} }}
        d: license(licenseNumber: "{changed["unknown_key"]}") {{ seal {{ issuer }} }}
    }}"""
    try:
        result = await AgencySchema(grants).execute(query, context_value=ctx)
    finally:
        for engine in engines.values():
            await engine.dispose()
    assert result.errors is None
    assert sorted(ctx.flags) == [
        f"seal-invalid:License:{changed['unknown_key']}",
        f"seal-invalid:License:{revived}",
    ]
