"""The gateway over real HTTP: each agency gets exactly what the catalogue grants it."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from typing import TYPE_CHECKING, Any

import pytest

from sources.inventory import BY_ENTITY
from tests.gateway.conftest import without_cost

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import httpx

    from tests.gateway.conftest import Ask, InProcess


def one(seeded: Path, database: str, sql: str) -> Any:
    with closing(sqlite3.connect(seeded / f"{database}.db")) as db:
        row = db.execute(sql).fetchone()
    assert row is not None, sql
    return row[0]


def codes(answer: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in answer.get("errors", [])]


def type_fields(ask: Ask, agency: str, name: str) -> set[str]:
    answer = ask(agency, "query($n: String!) { __type(name: $n) { fields { name } } }", n=name)
    found = answer["data"]["__type"]
    return set() if found is None else {f["name"] for f in found["fields"]}


def inventory(entity: str) -> set[str]:
    return {f.name for f in BY_ENTITY[entity].fields}


# -- acceptance cases of the shipped catalogue -------------------------------------------------


def test_gz_psb_reads_every_person_field_except_the_not_shareable_ones(
    ask: Ask, seeded: Path
) -> None:
    readable = inventory("Person") - {"religion", "classifiedPost"}
    assert readable <= type_fields(ask, "GZ-PSB", "Person")
    assert not {"religion", "classifiedPost"} & type_fields(ask, "GZ-PSB", "Person")
    someone = one(seeded, "persons", "SELECT id_number FROM persons LIMIT 1")
    answer = ask("GZ-PSB", f'{{ person(idNumber: "{someone}") {{ {" ".join(readable)} }} }}')
    assert "errors" not in answer
    assert set(answer["data"]["person"]) == readable
    assert answer["data"]["person"]["idNumber"] == someone


def test_gz_amr_reads_entities_and_licences_but_only_names_and_ids_of_persons(
    ask: Ask, seeded: Path
) -> None:
    assert inventory("LegalEntity") <= type_fields(ask, "GZ-AMR", "LegalEntity")
    assert inventory("License") <= type_fields(ask, "GZ-AMR", "License")
    assert type_fields(ask, "GZ-AMR", "Person") & inventory("Person") == {"idNumber", "name"}
    someone = one(seeded, "persons", "SELECT id_number FROM persons LIMIT 1")
    answer = ask("GZ-AMR", f'{{ person(idNumber: "{someone}") {{ name phone }} }}')
    assert codes(answer) == ["FORBIDDEN_FIELD"]
    assert "data" not in answer or answer["data"] is None
    assert "phone" in answer["errors"][0]["message"]
    assert "GZ-AMR" in answer["errors"][0]["message"]


def test_gz_pnr_reads_every_land_field_across_the_city(ask: Ask) -> None:
    assert inventory("LandParcel") <= type_fields(ask, "GZ-PNR", "LandParcel")
    query = "query($d: String) { landParcels(first: 5, divisionCode: $d) {" \
            " edges { node { divisionCode geometry } } } }"  # fmt: skip
    for division in ("440106", "440113", "440117"):
        nodes = [
            e["node"] for e in ask("GZ-PNR", query, d=division)["data"]["landParcels"]["edges"]
        ]
        assert nodes, division
        assert {n["divisionCode"] for n in nodes} == {division}
        assert all(n["geometry"]["type"] == "Polygon" for n in nodes)


def test_th_ca_reads_marital_status_of_tianhe_residents_only(ask: Ask, seeded: Path) -> None:
    inside = one(seeded, "persons", "SELECT id_number FROM persons WHERE division_code='440106'")
    outside = one(seeded, "persons", "SELECT id_number FROM persons WHERE division_code='440113'")
    query = "query($id: String!) { person(idNumber: $id) { name maritalStatus divisionCode } }"
    seen = ask("TH-CA", query, id=inside)["data"]["person"]
    assert seen["divisionCode"] == "440106"
    assert seen["maritalStatus"] in {"single", "married", "divorced", "widowed"}
    # Outside its division a record is null exactly as if it did not exist (Art. 21).
    hidden = ask("TH-CA", query, id=outside)
    assert without_cost(hidden) == {"data": {"person": None}}
    missing = ask("TH-CA", query, id="11010519491231002X")
    assert missing == hidden
    page = ask("TH-CA", "{ persons(first: 100) { edges { node { divisionCode } } } }")
    assert {e["node"]["divisionCode"] for e in page["data"]["persons"]["edges"]} == {"440106"}


def test_py_tax_sees_entities_and_parcels_of_panyu_only(ask: Ask, seeded: Path) -> None:
    answer = ask(
        "PY-TAX",
        "{ legalEntities(first: 100) { edges { node { divisionCode } } }"
        "  landParcels(first: 100) { edges { node { divisionCode } } } }",
    )
    for listing in ("legalEntities", "landParcels"):
        divisions = {e["node"]["divisionCode"] for e in answer["data"][listing]["edges"]}
        assert divisions == {"440113"}, listing
    elsewhere = one(
        seeded, "entities", "SELECT credit_code FROM legal_entities WHERE division_code='440106'"
    )
    query = "query($c: String!) { legalEntity(creditCode: $c) { name } }"
    assert without_cost(ask("PY-TAX", query, c=elsewhere)) == {"data": {"legalEntity": None}}
    assert ask("GZ-TAX", query, c=elsewhere)["data"]["legalEntity"]["name"]


def test_gz_water_may_only_verify_a_name_against_an_id_number(ask: Ask, seeded: Path) -> None:
    with closing(sqlite3.connect(seeded / "persons.db")) as db:
        person_id, name = db.execute("SELECT id_number, name FROM persons LIMIT 1").fetchone()
    query = "query($id: String!, $n: String) { verifyPerson(idNumber: $id, name: $n) { match } }"
    assert ask("GZ-WATER", query, id=person_id, n=name)["data"]["verifyPerson"]["match"] is True
    assert ask("GZ-WATER", query, id=person_id, n=name + "X")["data"]["verifyPerson"] == {
        "match": False
    }
    assert ask("GZ-WATER", query, id="11010519491231002X", n=name)["data"]["verifyPerson"] == {
        "match": False
    }
    roots = type_fields(ask, "GZ-WATER", "Query")
    # The workflows' fields are every agency's (issue 13): its own requests and objections.
    workflows = {"accessRequests", "objections", "notifications"}
    assert roots == {"me", "verifyPerson", "voucher", "freshness", *workflows}
    read = ask("GZ-WATER", f'{{ person(idNumber: "{person_id}") {{ name }} }}')
    assert codes(read) == ["FORBIDDEN_FIELD"]
    birth = ask(
        "GZ-WATER", f'{{ verifyPerson(idNumber: "{person_id}", birthDate: "x") {{ match }} }}'
    )
    assert codes(birth) == ["FORBIDDEN_FIELD"]


def test_me_tells_an_agency_its_duties_region_and_grants(ask: Ask) -> None:
    me = ask("PY-TAX", "{ me { agency { code division duties } scopes { type scope division }"
                       " readable administrator } }")["data"]["me"]  # fmt: skip
    assert me["agency"] == {"code": "PY-TAX", "division": "440113", "duties": ["taxation"]}
    assert {s["scope"] for s in me["scopes"]} == {"division"}
    assert "Person.religion" not in me["readable"]
    assert me["administrator"] is False


# -- what an attacker would try ----------------------------------------------------------------


def test_aliases_fragments_and_inline_fragments_cannot_reach_a_forbidden_field(
    ask: Ask, seeded: Path
) -> None:
    someone = one(seeded, "persons", "SELECT id_number FROM persons LIMIT 1")
    attempts = [
        f'{{ person(idNumber: "{someone}") {{ name secretPhone: phone }} }}',
        f'{{ person(idNumber: "{someone}") {{ ...P }} }} fragment P on Person {{ name phone }}',
        f'{{ person(idNumber: "{someone}") {{ ... on Person {{ phone }} }} }}',
        f'{{ ...Q }} fragment Q on Query {{ person(idNumber: "{someone}") {{ phone }} }}',
    ]
    for query in attempts:
        answer = ask("GZ-AMR", query)
        assert codes(answer) == ["FORBIDDEN_FIELD"], query
        assert answer.get("data") is None, query


def test_one_error_per_forbidden_field_and_unknown_fields_look_the_same(ask: Ask) -> None:
    answer = ask(
        "GZ-AMR",
        '{ person(idNumber: "11010519491231002X") { phone a: phone religion noSuchField } }',
    )
    messages = [e["message"] for e in answer["errors"]]
    assert codes(answer) == ["FORBIDDEN_FIELD"] * 3
    assert [m.split("'")[1] for m in messages] == ["phone", "religion", "noSuchField"]
    # A field that exists but is not shared reads exactly like one that does not exist.
    assert messages[1].replace("religion", "X") == messages[2].replace("noSuchField", "X")
    assert not any("Did you mean" in m for m in messages)


def test_introspection_lists_only_granted_fields_and_types(ask: Ask) -> None:
    answer = ask("GZ-WATER", "{ __schema { types { name fields { name } } } }")
    types = {t["name"]: t for t in answer["data"]["__schema"]["types"]}
    assert not {"Person", "LegalEntity", "LandParcel", "License"} & set(types)
    everything = str(answer)
    for hidden in ("religion", "classifiedPost", "maritalStatus", "holderId", "seal"):
        assert hidden not in everything
    th_ca = ask("TH-CA", "{ __schema { types { name fields { name args { name } } } } }")
    text = str(th_ca)
    assert "religion" not in text
    assert "phone" not in text  # not a field, and not a filter argument either


def test_a_filter_on_a_field_the_agency_cannot_read_is_refused(ask: Ask) -> None:
    answer = ask("GZ-AMR", '{ persons(status: "deceased") { edges { node { name } } } }')
    assert codes(answer) == ["FORBIDDEN_FIELD"]
    assert "status" in answer["errors"][0]["message"]


def test_batched_operations_are_each_checked_and_bounded(
    client: httpx.Client, token_for: Callable[[str], str]
) -> None:
    headers = {"Authorization": f"Bearer {token_for('GZ-AMR')}"}
    batch = [{"query": "{ me { agency { code } } }"},
             {"query": '{ person(idNumber: "11010519491231002X") { phone } }'}]  # fmt: skip
    answers = client.post("/graphql", json=batch, headers=headers).json()
    assert answers[0]["data"]["me"]["agency"]["code"] == "GZ-AMR"
    assert codes(answers[1]) == ["FORBIDDEN_FIELD"]
    too_many = client.post("/graphql", json=[batch[0]] * 11, headers=headers).json()
    assert codes(too_many) == ["QUERY_TOO_COMPLEX"]


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("{ persons(first: 1000) { edges { node { name } } } }", "page-size cap"),
        ("{ " + " ".join(f"a{i}: me {{ policyVersion }}" for i in range(31)) + " }", "aliases"),
        ("{ persons { edges { node { licenses { holderPerson { licenses { holderPerson {"
         " licenses { holderPerson { licenses { kind } } } } } } } } } } }", "levels deep"),
        ("{ me { policyVersion } }" + " " * 10 + "#" + ("{ me }" * 1), None),
        ("query { " + "me { policyVersion } " * 700 + "}", "tokens"),
    ],
)  # fmt: skip
def test_oversized_queries_are_refused_as_too_complex(
    ask: Ask, query: str, fragment: str | None
) -> None:
    answer = ask("GZ-PSB", query)
    if fragment is None:  # a control: comments are not tokens that count
        assert "errors" not in answer
        return
    assert codes(answer) == ["QUERY_TOO_COMPLEX"]
    assert fragment in answer["errors"][0]["message"]


def test_graphiqls_own_introspection_query_is_within_the_limits(ask: Ask) -> None:
    from graphql import get_introspection_query

    answer = ask("TH-CA", get_introspection_query(descriptions=True))
    assert "errors" not in answer
    assert answer["data"]["__schema"]["queryType"]["name"] == "Query"


# -- identifiers and links ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "check"),
    [
        ('{ person(idNumber: "11010519491231002Y") { name } }', "check character"),
        ('{ person(idNumber: "1101051949") { name } }', "length"),
        ('{ legalEntity(creditCode: "91350100M000100Y44") { name } }', "check character"),
        ('{ landParcel(parcelCode: "44010600300AGB00012") { parcelCode } }', "character set"),
        ('{ license(licenseNumber: "XX-440106-2020-000001-3") { kind } }', "structure"),
        ('{ persons(divisionCode: "4401") { edges { node { name } } } }', "length"),
    ],
)
def test_an_invalid_identifier_is_an_error_not_a_silent_null(
    ask: Ask, query: str, check: str
) -> None:
    answer = ask("GZ-PSB" if "person" in query else "GZ-AMR", query)
    if "landParcel" in query:
        answer = ask("GZ-PNR", query)
    assert codes(answer) == ["INVALID_IDENTIFIER"]
    assert answer["errors"][0]["extensions"]["check"] == check
    assert (
        "re-" in answer["errors"][0]["message"] or "not a valid" in answer["errors"][0]["message"]
    )


def test_a_cursor_not_issued_by_the_gateway_is_refused(ask: Ask) -> None:
    answer = ask("GZ-PSB", '{ persons(after: "bm9wZQ==") { edges { cursor } } }')
    assert codes(answer) == ["BAD_USER_INPUT"]


def test_pages_follow_each_other_without_gaps_or_repeats(ask: Ask) -> None:
    query = (
        'query($after: String) { persons(first: 7, after: $after, divisionCode: "440105") {'
        " edges { node { idNumber } } pageInfo { hasNextPage endCursor } } }"
    )
    seen: list[str] = []
    after = None
    for _ in range(4):
        page = ask("GZ-PSB", query, after=after)["data"]["persons"]
        seen += [e["node"]["idNumber"] for e in page["edges"]]
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 28
    assert seen == sorted(seen)


def test_links_answer_from_all_four_databases_in_one_query(ask: Ask, seeded: Path) -> None:
    holder = one(seeded, "licenses", "SELECT holder_id FROM licenses WHERE holder_kind='person'")
    answer = ask(
        "GZ-PSB",
        "query($id: String!) { person(idNumber: $id) { name licenses { licenseNumber"
        " holderPerson { idNumber } issuer { code } } landRights { parcelCode }"
        " representedEntities { creditCode } } }",
        id=holder,
    )
    person = answer["data"]["person"]
    assert "errors" not in answer
    assert person["licenses"]
    assert all(lic["holderPerson"]["idNumber"] == holder for lic in person["licenses"])
    assert all(lic["issuer"]["code"] for lic in person["licenses"])


def test_links_to_records_outside_the_district_are_null_as_if_absent(
    ask: Ask, seeded: Path
) -> None:
    with closing(sqlite3.connect(seeded / "persons.db")) as db:
        db.execute("ATTACH DATABASE ? AS e", (str(seeded / "entities.db"),))
        credit = db.execute(
            "SELECT e.credit_code FROM e.legal_entities e JOIN persons p"
            " ON p.id_number = e.legal_representative"
            " WHERE e.division_code = '440113' AND p.division_code != '440113'"
        ).fetchone()[0]
    query = "query($c: String!) { legalEntity(creditCode: $c) { name legalRepresentative" \
            " representative { name } } }"  # fmt: skip
    panyu = ask("PY-TAX", query, c=credit)["data"]["legalEntity"]
    city = ask("GZ-TAX", query, c=credit)["data"]["legalEntity"]
    assert panyu["representative"] is None
    assert city["representative"]["name"]
    assert panyu["legalRepresentative"] == city["legalRepresentative"]


# -- efficiency --------------------------------------------------------------------------------


def test_a_page_of_persons_with_links_costs_a_constant_number_of_statements(
    ask: Ask, live: InProcess
) -> None:
    query = "query($n: Int!) { persons(first: $n) { edges { node { name licenses { kind }" \
            " representedEntities { name } landRights { parcelCode } } } } }"  # fmt: skip
    counts = []
    for size in (5, 100):
        live.statements.clear()
        answer = ask("GZ-PSB", query, n=size)
        assert len(answer["data"]["persons"]["edges"]) == size
        counts.append(dict(live.statements))
    assert counts[0] == counts[1] == {"persons": 1, "licenses": 1, "entities": 1, "land": 1}


def test_only_selected_and_granted_columns_are_read(
    ask: Ask, live: InProcess, seeded: Path
) -> None:
    from sqlalchemy import event

    statements: list[str] = []
    engine = live.app.state.gateway.engines["persons"].sync_engine

    def capture(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", capture)
    try:
        someone = one(seeded, "persons", "SELECT id_number FROM persons LIMIT 1")
        ask("TH-CA", f'{{ person(idNumber: "{someone}") {{ name }} }}')
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    (sql,) = statements
    selected = sql.split("FROM")[0]
    assert "persons.name" in selected
    assert "marital_status" not in selected
    assert "religion" not in selected
    assert "division_code = " in sql  # the row scope is in the SQL (Art. 21)


def test_a_bounding_box_finds_the_parcels_that_reach_into_it(ask: Ask, seeded: Path) -> None:
    box = {"minLon": 113.30, "minLat": 23.10, "maxLon": 113.37, "maxLat": 23.17}
    query = "query($b: BoundingBox!) { landParcels(first: 100, bbox: $b) {" \
            " edges { node { parcelCode geometry } } } }"  # fmt: skip
    nodes = [e["node"] for e in ask("GZ-PNR", query, b=box)["data"]["landParcels"]["edges"]]
    assert nodes
    for node in nodes:
        ring = node["geometry"]["coordinates"][0]
        assert min(x for x, _ in ring) <= box["maxLon"]
        assert max(x for x, _ in ring) >= box["minLon"]
        assert min(y for _, y in ring) <= box["maxLat"]
        assert max(y for _, y in ring) >= box["minLat"]
    with closing(sqlite3.connect(seeded / "land.db")) as db:
        expected = db.execute(
            "SELECT count(*) FROM land_parcels WHERE min_lon <= ? AND max_lon >= ?"
            " AND min_lat <= ? AND max_lat >= ?",
            (box["maxLon"], box["minLon"], box["maxLat"], box["minLat"]),
        ).fetchone()[0]
    assert len(nodes) == min(expected, 100)


def test_a_bounding_box_needs_the_geometry_grant_and_a_sane_box(ask: Ask) -> None:
    box = {"minLon": 113.3, "minLat": 23.1, "maxLon": 113.4, "maxLat": 23.2}
    query = "query($b: BoundingBox!) { landParcels(bbox: $b) { edges { cursor } } }"
    refused = ask("GZ-AMR", query, b=box)
    # The argument and the input type both lie outside GZ-AMR's schema: one error each.
    assert codes(refused) == ["FORBIDDEN_FIELD", "FORBIDDEN_FIELD"]
    assert {e["message"].split("'")[1] for e in refused["errors"]} == {"bbox", "BoundingBox"}
    flipped = {**box, "minLon": 113.5}
    assert codes(ask("GZ-PNR", query, b=flipped)) == ["BAD_USER_INPUT"]


def test_verification_is_capped_per_operation_so_guessing_cannot_read_in_bulk(
    ask: Ask, seeded: Path
) -> None:
    person = one(seeded, "persons", "SELECT id_number FROM persons LIMIT 1")
    guesses = " ".join(
        f'g{i}: verifyPerson(idNumber: "{person}", name: "guess {i}") {{ match }}' for i in range(6)
    )
    answer = ask("GZ-WATER", f"{{ {guesses} }}")
    assert codes(answer) == ["QUERY_TOO_COMPLEX"]
    assert "verifies 6 claims; the limit is 5" in answer["errors"][0]["message"]


def test_me_mentions_only_the_types_in_the_agencys_schema(ask: Ask) -> None:
    scopes = ask("GZ-WATER", "{ me { scopes { type } } }")["data"]["me"]["scopes"]
    assert scopes == [{"type": "Person"}]


def test_a_variable_of_the_wrong_type_is_bad_input_not_an_internal_error(ask: Ask) -> None:
    answer = ask("GZ-PSB", "query($n: Int!) { persons(first: $n) { edges { cursor } } }", n="x")
    assert codes(answer) == ["BAD_USER_INPUT"]
    assert answer["errors"][0]["message"] == "Int cannot represent non-integer value: 'x'"


def test_validated_documents_are_reused_but_refusals_never_are(ask: Ask, live: InProcess) -> None:
    gateway = live.app.state.gateway
    schema = gateway.served.schemas.schema_for(gateway.served.policy.grants_for("GZ-AMR"))
    good = "{ me { policyVersion } }"
    bad = '{ person(idNumber: "11010519491231002X") { phone } }'
    for _ in range(3):
        ask("GZ-AMR", good)
        assert codes(ask("GZ-AMR", bad)) == ["FORBIDDEN_FIELD"]
    assert good in schema.validated
    assert bad not in schema.validated
