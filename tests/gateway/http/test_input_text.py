"""Text that is not valid Unicode is refused when the body is read (400, BAD_USER_INPUT, a
sentence) and recorded, by every route fuzzing found; numbers a voucher cannot carry are
BAD_USER_INPUT, never a masked INTERNAL_SERVER_ERROR (docs/security.md, "Input that is not
valid text")."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.gateway.http.test_audit import audit_of

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import httpx

    from tests.gateway.conftest import InProcess

#: A lone high surrogate, as a JSON escape and as the UTF-8 bytes json.loads also accepted.
ESCAPED = rb"\ud800"
RAW = b"\xed\xa0\x80"
PERSONS = rb"query($v: String) { persons(name: $v, first: 1) { edges { node { name } } } }"


def body(query: bytes, **members: bytes) -> bytes:
    """A JSON body with `query` and raw (already JSON) `members`."""
    parts = [b'"query": "' + query.replace(b'"', rb"\"") + b'"']
    parts += [b'"' + name.encode() + b'": ' + value for name, value in members.items()]
    return b"{" + b", ".join(parts) + b"}"


REFUSED_QUERY = rb'{ person(idNumber: "1") { religion } }'
#: (route, body, where the message says the bad text is).
POISONED = [
    ("operationName, escaped", body(REFUSED_QUERY, operationName=b'"' + ESCAPED + b'"'),
     "`operationName`"),
    ("operationName, raw bytes", body(REFUSED_QUERY, operationName=b'"' + RAW + b'"'),
     "not valid UTF-8"),
    ("a variable's key", body(PERSONS, variables=b'{"' + ESCAPED + b'": "x"}'),
     "a key of `variables`"),
    ("persons(name:)", body(PERSONS, variables=b'{"v": "Li' + ESCAPED + b'"}'), "`variables.v`"),
    ("persons(status:)", body(
        rb"query($v: String) { persons(status: $v, first: 1) { edges { node { name } } } }",
        variables=b'{"v": "' + ESCAPED + b'"}'), "`variables.v`"),
    ("legalEntities(kind:)", body(
        rb"query($v: String) { legalEntities(kind: $v, first: 1) { edges { node { name } } } }",
        variables=b'{"v": "' + ESCAPED + b'"}'), "`variables.v`"),
    ("landParcels(landUse:)", body(
        rb"query($v: String) { landParcels(landUse: $v, first: 1) { edges { node { parcelCode } } } }",  # noqa: E501
        variables=b'{"v": "' + RAW + b'"}'), "not valid UTF-8"),
    ("voucher(id:)", body(rb"query($v: String!) { voucher(id: $v) { agency } }",
                          variables=b'{"v": "' + ESCAPED + b'"}'), "`variables.v`"),
    ("a batch", b"[" + body(PERSONS, variables=b'{"v": "' + ESCAPED + b'"}') + b"]",
     "`[0].variables.v`"),
]  # fmt: skip


def post(live: InProcess, content: bytes, token: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return live.client.post("/graphql", content=content, headers=headers, timeout=30)


@pytest.mark.parametrize(("route", "content", "where"), POISONED, ids=[p[0] for p in POISONED])
def test_text_that_is_not_unicode_is_refused_at_input_and_recorded(
    live: InProcess, seeded: Path, token_for: Callable[[str], str],
    route: str, content: bytes, where: str,
) -> None:  # fmt: skip
    response = post(live, content, token_for("GZ-PSB"))
    assert response.status_code == 400, (route, response.text)
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert where in error["message"]
    assert "Nothing was run" in error["message"]
    record = audit_of(seeded, response.headers["x-request-id"])
    assert (record["decision"], record["agency"]) == ("refused", "GZ-PSB")
    assert record["errorCodes"] == ["BAD_USER_INPUT"]


def test_a_surrogate_escape_in_a_graphql_string_literal_is_a_parse_error_recorded(
    live: InProcess, seeded: Path, token_for: Callable[[str], str]
) -> None:
    # The JSON is valid text; the GraphQL escape \ud800 inside it is not a character.
    query = rb"{ persons(name: \"\\ud800\", first: 1) { edges { node { name } } } }"
    response = post(live, b'{"query": "' + query + b'"}', token_for("GZ-PSB"))
    assert response.status_code == 200
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert "Invalid Unicode escape sequence" in error["message"]
    record = audit_of(seeded, response.headers["x-request-id"])
    assert record["decision"] == "refused"


def voucher_of(live: InProcess, token: str) -> tuple[str, dict[str, Any]]:
    """A voucher GZ-AMR was given, and the data it covers."""
    query = "{ licenses(first: 2) { edges { node { licenseNumber kind } } } }"
    answer = live.client.post("/graphql", json={"query": query}, timeout=30,
                        headers={"Authorization": f"Bearer {token}"}).json()  # fmt: skip
    return answer["extensions"]["voucher"]["id"], answer["data"]


CONFIRMS = "query($id: String!, $data: JSON!) { voucher(id: $id) { confirms(data: $data) } }"


@pytest.mark.parametrize(
    ("data", "status", "said"),
    [
        (b'{"a": NaN}', 400, "NaN, which JSON cannot carry"),
        (b'{"a": 1e400}', 400, "the number 1e400, too large for a double"),
        (b'{"a": -Infinity}', 400, "-Infinity, which JSON cannot carry"),
        (b'{"a": "' + ESCAPED + b'"}', 400, "lone UTF-16 surrogate in `variables.data.a`"),
        (b'{"a": 1152921504606846976}', 200, "exceeds safe integer domain"),  # 2**60 > 2**53
    ],
)
def test_confirms_with_data_json_cannot_carry_is_bad_user_input(
    live: InProcess, token_for: Callable[[str], str], data: bytes, status: int, said: str
) -> None:
    token = token_for("GZ-AMR")
    voucher_id, _ = voucher_of(live, token)
    variables = b'{"id": "' + voucher_id.encode() + b'", "data": ' + data + b"}"
    response = post(live, body(CONFIRMS.encode(), variables=variables), token)
    assert response.status_code == status, response.text
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert said in error["message"]


def test_confirms_with_an_infinite_literal_in_the_query_is_bad_user_input(
    live: InProcess, token_for: Callable[[str], str]
) -> None:
    token = token_for("GZ-AMR")
    voucher_id, _ = voucher_of(live, token)
    query = f'{{ voucher(id: "{voucher_id}") {{ confirms(data: {{a: 1e400}}) }} }}'
    answer = live.client.post("/graphql", json={"query": query}, timeout=30,
                        headers={"Authorization": f"Bearer {token}"}).json()  # fmt: skip
    (error,) = answer["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "canonical JSON" in error["message"]
