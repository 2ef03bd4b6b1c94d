"""The attacker's review of issue 9's hardening: each defence of docs/security.md attacked over
HTTP, holding only the demo's tokens, the shipped files and the development key. These held;
what broke is in test_findings.py (docs/security.md, "Fuzzing", has the list).

Every request goes through the harness: it must be no undocumented 5xx, JSON with its request
id, show nothing internal, and leave exactly one audit record.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from datetime import date
from typing import TYPE_CHECKING, Any

import pytest

from sources.identifiers import IdNumber
from tests.fuzz.conftest import sign, standard_claims
from tests.fuzz.harness import check_exchange, raw_http, records_of
from tests.fuzz.oracle import Divisions

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.fuzz.conftest import Defended
    from tests.fuzz.harness import Exchange


@pytest.fixture(autouse=True)
def _settled(defended: Defended) -> Iterator[None]:
    """Requests a test sends past the harness (raw sockets, threads) are counted by the test
    itself; whatever they recorded is not left for the next test's ledger."""
    yield
    defended.gateway.ledger.read_new()
    defended.gateway.ledger.pending.clear()


def post(
    defended: Defended, agency: str, body: object, *extra: tuple[bytes, bytes], raw: bytes = b""
) -> Exchange:
    """POST `body` (JSON, or `raw` bytes) as `agency`; checked and its one record settled."""
    exchange = defended.gateway.send(
        "POST",
        "/graphql",
        headers=defended.headers(agency, *extra),
        content=raw or json.dumps(body).encode(),
    )
    check_exchange(exchange)
    defended.gateway.ledger.settle([exchange])
    return exchange


def codes(answer: Any) -> list[str]:
    """The error codes of one GraphQL answer."""
    return [e["extensions"]["code"] for e in answer.get("errors", [])]


def record_of(defended: Defended, exchange: Exchange) -> dict[str, Any]:
    """The one audit record of `exchange`."""
    (record,) = records_of(defended.folder / "audit.db", exchange.prefix)
    return record


# -- Query bounds: fragments, aliases, cost, merge pairs ----------------------------------------


def test_aliases_and_depth_hidden_in_fragments_count_as_they_run(defended: Defended) -> None:
    sixteen = " ".join(f"n{i}: name" for i in range(16))
    aliased = (
        f'{{ a: person(idNumber: "1") {{ ...P }} b: person(idNumber: "2") {{ ...P }} }}'
        f" fragment P on Person {{ {sixteen} }}"
    )  # 34 aliases as run, 18 as written
    answer = post(defended, "GZ-PSB", {"query": aliased}).body()
    assert codes(answer) == ["QUERY_TOO_COMPLEX"]
    assert "34 aliases once its fragments are expanded" in answer["errors"][0]["message"]
    # Eleven levels, each fragment one level deep.
    chain = (
        " ".join(
            f"fragment L{i} on Person {{ licenses {{ holderPerson {{ ...L{i + 1} }} }} }}"
            for i in range(5)
        )
        + " fragment L5 on Person { idNumber }"
    )
    deep = post(defended, "GZ-PSB", {"query": f'{{ person(idNumber: "1") {{ ...L0 }} }} {chain}'})
    assert codes(deep.body()) == ["QUERY_TOO_COMPLEX"]
    assert "nests 12 levels deep" in deep.body()["errors"][0]["message"]


def test_fragments_spread_side_by_side_cannot_multiply_the_pairs_validation_compares(
    defended: Defended,
) -> None:
    fragments = " ".join(
        f"fragment G{i} on Query {{ me {{ agency {{ code }} }} }}" for i in range(70)
    )
    spreads = " ".join(f"...G{i}" for i in range(70))
    answer = post(defended, "GZ-WATER", {"query": f"{{ {spreads} }} {fragments}"}).body()
    assert codes(answer) == ["QUERY_TOO_COMPLEX"]
    assert "pairs of selections share a response name" in answer["errors"][0]["message"]


#: A page whose cost depends on `first` (224 for 1 person, 22,301 for 100): each person's
#: licences' holders' licences' holders.
PAGED = (
    "query Paged($n: Int! = 1) { persons(first: $n) { edges { node { licenses { "
    "holderPerson { licenses { holderPerson { name } } } } } } } }"
)


def test_a_page_size_given_by_a_variable_is_costed_per_request_even_when_the_text_is_cached(
    defended: Defended,
) -> None:
    small = post(defended, "GZ-PSB", {"query": PAGED}).body()  # its default: 1 person
    assert "errors" not in small, small
    estimated = small["extensions"]["cost"]["estimated"]
    assert estimated < small["extensions"]["cost"]["limit"]
    # The same text (now a validated, cached document) asking for 100 persons.
    large = post(defended, "GZ-PSB", {"query": PAGED, "variables": {"n": 100}}).body()
    assert codes(large) == ["QUERY_TOO_COMPLEX"]
    assert large["extensions"]["cost"]["estimated"] > large["extensions"]["cost"]["limit"]
    # A value that is not an Int (a float the schema would coerce, a string, null) is costed
    # at the page cap, so refused here too.
    for odd in (100.0, "100", None):
        refused = post(defended, "GZ-PSB", {"query": PAGED, "variables": {"n": odd}}).body()
        assert refused.get("data") is None, refused


def test_a_batch_is_sized_costed_and_verified_as_a_whole(defended: Defended) -> None:
    one = {"query": "{ me { policyVersion } }"}
    too_many = post(defended, "GZ-WATER", [one] * 11).body()
    assert codes(too_many) == ["QUERY_TOO_COMPLEX"]
    pages = {
        "query": "{ "
        + " ".join(
            f"p{i}: persons(first: 100) {{ edges {{ node {{ name }} }} }}" for i in range(30)
        )
        + " }"
    }
    batch = post(defended, "GZ-PSB", [pages] * 10).body()
    assert all(codes(result) == ["QUERY_TOO_COMPLEX"] for result in batch)
    subject = IdNumber.build("110101", date(1990, 3, 8), 5).value
    verify = {
        "query": f'{{ a: verifyPerson(idNumber: "{subject}", name: "甲") {{ match }} '
        f'b: verifyPerson(idNumber: "{subject}", name: "乙") {{ match }} }}'
    }
    exchange = post(defended, "GZ-WATER", [verify] * 3)  # 6 verifications, 2 per operation
    assert codes(exchange.body()) == ["QUERY_TOO_COMPLEX"]
    assert "verif" in exchange.body()["errors"][0]["message"]
    assert not [f for f in record_of(defended, exchange)["flags"] if f.startswith("verify:")]


# -- Cached and persisted documents -------------------------------------------------------------


def test_a_document_validated_for_one_grant_set_is_never_reused_for_another(
    defended: Defended,
) -> None:
    query = {"query": "{ persons(first: 1) { edges { node { idNumber phone } } } }"}
    assert "errors" not in post(defended, "GZ-PSB", query).body()
    # The same text, now cached for GZ-PSB's schema: another agency, and a narrower duty.
    for agency, duty in (("TH-CA", None), ("GZ-PSB", b"traffic-management")):
        extra = [(b"Govgate-Duty", duty)] if duty else []
        answer = post(defended, agency, query, *extra).body()
        assert codes(answer) == ["FORBIDDEN_FIELD"], answer
        assert answer["errors"][0]["extensions"]["name"] == "Person.phone"


def test_a_persisted_query_hash_neither_replaces_nor_skips_the_query(defended: Defended) -> None:
    # A hash nobody registered for this agency: Apollo's "not found" (the client sends the
    # text next); a hash that is not the text's: refused, never run as either.
    apq = {"version": 1, "sha256Hash": "0" * 64}
    only_hash = post(defended, "TH-CA", {"extensions": {"persistedQuery": apq}}).body()
    assert codes(only_hash) == ["PERSISTED_QUERY_NOT_FOUND"]
    forbidden = "{ persons(first: 1) { edges { node { phone } } } }"
    wrong = {"query": forbidden, "extensions": {"persistedQuery": apq}}
    assert codes(post(defended, "TH-CA", wrong).body()) == ["BAD_REQUEST"]
    # The text's own hash registers nothing past validation: the text is checked as sent.
    digest = hashlib.sha256(forbidden.encode()).hexdigest()
    own = {"version": 1, "sha256Hash": digest}
    sent = {"query": forbidden, "extensions": {"persistedQuery": own}}
    assert codes(post(defended, "TH-CA", sent).body()) == ["FORBIDDEN_FIELD"]
    again = post(defended, "TH-CA", {"extensions": {"persistedQuery": own}}).body()
    assert codes(again) == ["PERSISTED_QUERY_NOT_FOUND"]
    # A document GZ-PSB registered (it may read phones) is not TH-CA's to run by hash.
    assert "errors" not in post(defended, "GZ-PSB", sent).body()
    theirs = post(defended, "TH-CA", {"extensions": {"persistedQuery": own}}).body()
    assert codes(theirs) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert "data" not in theirs or not theirs["data"]


# -- Verification is not an oracle ---------------------------------------------------------------

#: A subject no other test verifies (the windows are the session gateway's).
SUBJECT = IdNumber.build("110101", date(1990, 3, 7), 17).value
GUESS = (
    'fragment V on Query {{ {alias}: verifyPerson(idNumber: "{subject}", name: "{name}") '
    "{{ match }} }}"
)


def _guess(defended: Defended, names: list[str], duty: bytes) -> Exchange:
    fragments = " ".join(
        GUESS.format(alias=f"g{i}", subject=SUBJECT, name=n).replace("fragment V", f"fragment V{i}")
        for i, n in enumerate(names)
    )
    spreads = " ".join(f"...V{i}" for i in range(len(names)))
    return post(
        defended, "GZ-PSB", {"query": f"{{ {spreads} }} {fragments}"}, (b"Govgate-Duty", duty)
    )


def test_guesses_are_counted_per_subject_across_duties_fragments_and_batches(
    defended: Defended,
) -> None:
    first = _guess(defended, ["张一", "张二"], b"household-registration").body()
    assert [r["match"] for r in first["data"].values()] == [False, False]
    batch = post(
        defended,
        "GZ-PSB",
        [
            {"query": f'{{ verifyPerson(idNumber: "{SUBJECT}", name: "{n}") {{ match }} }}'}
            for n in ("张三", "张四", "张五")
        ],
        (b"Govgate-Duty", b"public-security"),
    )
    assert all("errors" not in r for r in batch.body())
    sixth = _guess(defended, ["张六"], b"traffic-management")  # the sixth claim, a third duty
    assert codes(sixth.body()) == ["RATE_LIMITED"]
    assert f"misuse:verify-candidates:Person:{SUBJECT}" in record_of(defended, sixth)["flags"]
    # A claim already tried is refused too now: the subject is closed to this agency.
    again = _guess(defended, ["张一"], b"household-registration")
    assert codes(again.body()) == ["RATE_LIMITED"]


# -- Nothing inferable: not shared and does not exist answer alike -------------------------------


def _same_but_name(first: Any, second: Any, names: tuple[str, str]) -> None:
    assert codes(first) == codes(second)
    text = json.dumps(first).replace(names[0], "NAME")
    assert text == json.dumps(second).replace(names[1], "NAME")


@pytest.mark.parametrize(
    ("agency", "shared_elsewhere", "nowhere", "names"),
    [
        (
            "TH-CA",
            "{ persons(first: 1) { edges { node { phone } } } }",
            "{ persons(first: 1) { edges { node { phonx } } } }",
            ("phone", "phonx"),
        ),
        (
            "TH-CA",
            '{ verifyPerson(idNumber: "1", phone: "1") { match } }',
            '{ verifyPerson(idNumber: "1", phonx: "1") { match } }',
            ("phone", "phonx"),
        ),
        (
            "GZ-WATER",
            "{ ...F } fragment F on Person { name }",
            "{ ...F } fragment F on Persox { name }",
            ("Person", "Persox"),
        ),
        (
            "GZ-WATER",
            '{ __type(name: "Person") { name } }',
            '{ __type(name: "Persox") { name } }',
            ("Person", "Persox"),
        ),
    ],
    ids=["field", "argument", "type", "introspection"],
)
def test_what_is_not_shared_answers_exactly_as_what_does_not_exist(
    defended: Defended, agency: str, shared_elsewhere: str, nowhere: str, names: tuple[str, str]
) -> None:
    # Person.phone is GZ-PSB's to read and verify, not TH-CA's; GZ-WATER may read no Person.
    first = post(defended, agency, {"query": shared_elsewhere}).body()
    second = post(defended, agency, {"query": nowhere}).body()
    _same_but_name(first, second, names)


def test_a_record_of_another_district_answers_exactly_as_one_that_does_not_exist(
    defended: Defended, seeded: Path
) -> None:
    # TH-CA (Tianhe, 440106): a person of another district, and a valid number no one has.
    elsewhere = Divisions.read(seeded).keys("Person", "!440106")[0]
    nobody = IdNumber.build("110101", date(1900, 1, 1), 1).value
    for query in (
        '{{ person(idNumber: "{}") {{ name }} }}',
        '{{ verifyPerson(idNumber: "{}", name: "李宇婷") {{ match checked }} }}',
    ):
        first = post(defended, "TH-CA", {"query": query.format(elsewhere)}).body()
        second = post(defended, "TH-CA", {"query": query.format(nobody)}).body()
        assert first == second, (first, second)


# -- Tokens: leeway, lifetime, odd claims --------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "status", "reason"),
    [
        ({"iat": +20, "exp": +600}, 200, None),
        ({"iat": +45, "exp": +600}, 401, "not_yet_valid"),
        ({"nbf": +20}, 200, None),
        ({"nbf": +45}, 401, "not_yet_valid"),
        ({"iat": -600, "exp": -20}, 200, None),  # within the 30 s leeway
        ({"iat": -600, "exp": -45}, 401, "expired"),
        ({"iat": -86_000, "exp": +400}, 200, None),  # 86,400 s: the cap
        ({"iat": -86_001, "exp": +400}, 401, "lifetime_too_long"),
        ({"exp": float("nan")}, 401, "malformed_token"),
        ({"iat": float("-inf")}, 401, "malformed_token"),
        ({"exp": 10**400}, 401, "lifetime_too_long"),
        ({"jti": 5}, 401, "malformed_token"),
        ({"sub": ["GZ-WATER"]}, 401, "malformed_token"),
    ],
)
def test_a_token_at_each_edge_of_its_leeway_and_lifetime(
    defended: Defended, claims: dict[str, Any], status: int, reason: str | None
) -> None:
    now = int(time.time())
    changed = {
        k: now + v if isinstance(v, int) and abs(v) < 10**6 else v for k, v in claims.items()
    }
    token = sign(defended.key, {**standard_claims("GZ-WATER", now=now), **changed})
    exchange = defended.gateway.send(
        "POST",
        "/graphql",
        content=b'{"query": "{ me { policyVersion } }"}',
        headers=[(b"Authorization", f"Bearer {token}".encode())],
    )
    check_exchange(exchange)
    defended.gateway.ledger.settle([exchange])
    assert exchange.response is not None
    assert exchange.response.status_code == status, exchange.describe()
    if reason is not None:
        assert exchange.body()["errors"][0]["extensions"]["reason"] == reason


# -- Headers: request ids and duties -------------------------------------------------------------


@pytest.mark.parametrize("odd", [b"\xe2\x80\xaeevil", b"a" * 65, b"a b", b"..", b"\xff"])
def test_an_odd_request_id_is_replaced_not_echoed(defended: Defended, odd: bytes) -> None:
    exchange = defended.gateway.send(
        "POST",
        "/graphql",
        headers=defended.headers("GZ-WATER"),
        content=b'{"query": "{ me { policyVersion } }"}',
        request_id=odd,
    )
    check_exchange(exchange)
    defended.gateway.ledger.settle([exchange])
    assert exchange.request_id is not None
    assert exchange.request_id.isascii()
    assert exchange.request_id.isalnum()


@pytest.mark.parametrize(
    ("duties", "status", "recorded"),
    [
        (
            [b"household-registration", b"public-security"],
            403,
            "household-registration,public-security",
        ),
        ([b"civil-affairs"], 403, "civil-affairs"),  # TH-CA's duty, not GZ-PSB's
        ([b"household-registration\xe2\x80\xae"], 403, "household-registration\u00e2\u0080\u00ae"),
        ([b"x" * 300], 403, "x" * 64),
        ([b""], 200, None),
        ([b"traffic-management"], 200, "traffic-management"),
    ],
    ids=["two-headers", "another-agencys", "rtl-mark", "long", "empty", "held"],
)
def test_the_duty_header_names_one_duty_the_agency_holds_or_is_refused_and_recorded(
    defended: Defended, duties: list[bytes], status: int, recorded: str | None
) -> None:
    extra = [(b"Govgate-Duty", duty) for duty in duties]
    exchange = post(defended, "GZ-PSB", {"query": "{ me { duty } }"}, *extra)
    assert exchange.response is not None
    assert exchange.response.status_code == status, exchange.describe()
    assert record_of(defended, exchange).get("duty") == recorded
    if status == 200:
        assert exchange.body()["data"]["me"]["duty"] == recorded


# -- Every request leaves one record ------------------------------------------------------------


def _request(
    defended: Defended,
    rid: str,
    *,
    method: bytes = b"POST",
    path: bytes = b"/graphql",
    version: bytes = b"HTTP/1.1",
    extra: bytes = b"",
    chunked: bool = False,
) -> bytes:
    """One raw HTTP request for a `me` query as TH-CA, with X-Request-Id `rid`."""
    body = b'{"query": "{ me { policyVersion } }"}'
    framing = b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    if chunked:
        framing = (
            b"Transfer-Encoding: chunked\r\n\r\n"
            + f"{len(body):x}".encode()
            + b"\r\n"
            + body
            + b"\r\n0\r\n\r\n"
        )
    return (
        method
        + b" "
        + path
        + b" "
        + version
        + b"\r\nHost: gateway\r\nAuthorization: Bearer "
        + defended.token("TH-CA").encode()
        + b"\r\nContent-Type: application/json\r\n"
        b"X-Request-Id: " + rid.encode() + b"\r\n" + extra + framing
    )


@pytest.mark.parametrize(
    "shape",
    [
        "head",
        "options-preflight",
        "http-10",
        "pipelined",
        "5000-headers",
        "60-kB-cookie",
        "chunked",
        "expect-100",
        "absolute-uri",
        "asterisk",
        "lower-case-method",
        "h2c-upgrade",
    ],
)
def test_every_shape_of_http_request_leaves_exactly_one_record(
    defended: Defended, shape: str
) -> None:
    rid = f"shape-{shape}".lower()
    close = b"Connection: close\r\n"
    requests = {
        "head": b"HEAD /graphql HTTP/1.1\r\nHost: g\r\nX-Request-Id: "
        + rid.encode()
        + b"\r\nConnection: close\r\n\r\n",
        "options-preflight": b"OPTIONS /graphql HTTP/1.1\r\nHost: g\r\nOrigin: http://elsewhere"
        b"\r\nAccess-Control-Request-Method: POST\r\nX-Request-Id: "
        + rid.encode()
        + b"\r\nConnection: close\r\n\r\n",
        "http-10": _request(defended, rid, version=b"HTTP/1.0"),
        "pipelined": b"".join(_request(defended, f"{rid}{n}") for n in range(2))
        + _request(defended, f"{rid}2", extra=close),
        "5000-headers": _request(
            defended, rid, extra=b"".join(b"X-H%d: v\r\n" % i for i in range(5000)) + close
        ),
        "60-kB-cookie": _request(
            defended, rid, extra=b"Cookie: " + b"c" * 60_000 + b"\r\n" + close
        ),
        "chunked": _request(defended, rid, extra=close, chunked=True),
        "expect-100": _request(defended, rid, extra=b"Expect: 100-continue\r\n" + close),
        "absolute-uri": _request(defended, rid, path=b"http://elsewhere/graphql", extra=close),
        "asterisk": b"OPTIONS * HTTP/1.1\r\nHost: g\r\nX-Request-Id: "
        + rid.encode()
        + b"\r\nConnection: close\r\n\r\n",
        "lower-case-method": _request(defended, rid, method=b"post", extra=close),
        "h2c-upgrade": _request(
            defended,
            rid,
            extra=b"Upgrade: h2c\r\nConnection: Upgrade, "
            b"HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n",
        ),
    }
    answer = raw_http(defended.server.url, requests[shape])
    sent = [f"{rid}{n}" for n in range(3)] if shape == "pipelined" else [rid]
    if shape == "lower-case-method":
        # Methods are case-sensitive (RFC 9110 9.1): httptools refuses "post" before any header
        # is read, so the answer and its one record carry the gateway's own request id.
        assert answer.startswith(b"HTTP/1.1 400 "), answer[:600]
        assert b'"code":"BAD_REQUEST"' in answer, answer[:600]
        given = re.search(rb"x-request-id: ([0-9a-f]+)\r\n", answer.lower())
        assert given, answer[:600]
        found = records_of(defended.folder / "audit.db", given[1].decode(), wait_s=2, exact=True)
        assert len(found) == 1, answer[:600]
        defended.gateway.ledger.read_new()
        return
    for prefix in sent:
        assert f"x-request-id: {prefix}.".encode() in answer.lower(), answer[:600]
        assert len(records_of(defended.folder / "audit.db", prefix, wait_s=2)) == 1, prefix
    defended.gateway.ledger.read_new()  # these were counted here, by their prefixes
