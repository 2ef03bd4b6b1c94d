"""JSON answers are written by orjson to the JSON Starlette's standard-library writer makes:
compact, non-ASCII as it is, and what orjson cannot write the same way written as before."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from starlette.responses import JSONResponse

from gateway.errors import WireError
from gateway.http.responses import JsonAnswer, error_response, json_body

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import httpx

PERSON = "{ person(idNumber: $id) { idNumber name gender birthDate ethnicity address status"
LINKS = " licenses { licenseNumber kind issuedOn validUntil status } landRights { parcelCode"


def standard(content: Any) -> bytes:
    """What Starlette's own JSONResponse writes."""
    return bytes(JSONResponse(content).body)


@pytest.mark.parametrize(
    "content",
    [
        {"data": {"person": {"name": "陈晓明", "address": "广州市天河区体育西路 1 号", "n": None}}},
        {"errors": [{"message": 'Field "x" is not shared.', "path": ["a", 0, "b"]}]},
        [{"a": True, "b": False, "c": 0, "d": -(2**31), "e": 2**53}, [], {}],
        {"area": 1234.5, "small": 0.1, "whole": 5.0, "emoji": "😀", "quote": '"\\\n\t\u2028'},
    ],
)
def test_orjson_writes_the_same_json_as_the_standard_library(content: Any) -> None:
    written = json_body(content)
    assert json.loads(written) == json.loads(standard(content)) == content
    assert written == standard(content)  # these values are even spelled the same
    assert b"\\u" not in written or "\u2028" in json.dumps(content)  # non-ASCII as it is


def test_what_orjson_would_write_otherwise_is_written_or_refused_as_before() -> None:
    @dataclasses.dataclass
    class Point:
        x: int

    assert json_body({1: "a"}) == standard({1: "a"}) == b'{"1":"a"}'
    assert json_body({"big": 2**70}) == standard({"big": 2**70})
    for refused in ({"p": Point(1)}, {"t": datetime(2026, 12, 1, tzinfo=UTC)}):
        with pytest.raises(TypeError):
            standard(refused)
        with pytest.raises(TypeError):
            json_body(refused)
    with pytest.raises(UnicodeEncodeError):
        standard({"lone": "\ud800"})
    with pytest.raises(UnicodeEncodeError):
        json_body({"lone": "\ud800"})
    deep: Any = "x"
    for _ in range(300):
        deep = [deep]
    assert json_body(deep) == standard(deep)


def test_non_finite_numbers_never_become_the_token_nan() -> None:
    written = json_body({"x": float("nan"), "y": float("inf")})
    assert b"NaN" not in written
    assert b"Infinity" not in written
    assert json.loads(written) == {"x": None, "y": None}


def test_a_refusal_is_a_json_answer_with_its_status_and_request_id() -> None:
    refusal = WireError("Send fewer operations at once.", code="QUERY_TOO_COMPLEX")
    response = error_response(refusal, "req-1")
    assert isinstance(response, JsonAnswer)
    assert response.status_code == refusal.status
    assert response.headers["x-request-id"] == "req-1"
    assert response.headers["content-type"] == "application/json"
    assert bytes(response.body) == standard(refusal.body())


def test_the_gateways_answers_are_the_json_the_standard_library_would_write(
    client: httpx.Client, token_for: Callable[[str], str], seeded: Path
) -> None:
    with closing(sqlite3.connect(seeded / "persons.db")) as db:
        ids = [r[0] for r in db.execute("SELECT id_number FROM persons LIMIT 5")]
    query = f"query Q($id: String!) {PERSON}{LINKS} landUse }} }} }}"
    headers = {"Authorization": f"Bearer {token_for('GZ-PSB')}"}
    for person in ids:
        answer = client.post("/graphql", json={"query": query, "variables": {"id": person}},
                             headers=headers)  # fmt: skip
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["data"]["person"]["idNumber"] == person
        assert answer.content == standard(body)
        assert "\\u" not in answer.text  # Chinese names and addresses as they are
