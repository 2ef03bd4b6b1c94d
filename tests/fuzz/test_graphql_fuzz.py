"""Fuzzing the GraphQL endpoint over real HTTP (issue 9, "Fuzzing"; docs/security.md, "Fuzzing").

For a broad agency (GZ-PSB), a district one (TH-CA) and a verify-only one (GZ-WATER): queries
generated from each agency's own introspected schema and dressed up with aliases, fragments,
variables, directives, batches, odd Unicode and odd numbers; malformed bodies, methods and
paths; bad, expired and foreign tokens; odd duty and request-id headers. Every answer must:

- be no 5xx but the documented 503s, JSON, with its `X-Request-Id`, and show no traceback,
  Python type name or internal module path (body or header);
- leave exactly one audit record (counted by request id), and nothing else be recorded;
- hold no field outside the agency's grants (under the duty it named) and, for a district
  agency, no record of another district (tests/fuzz/oracle.py).

CI runs a fixed number of examples with a fixed seed (about a minute here). To run longer, by
hand: `GOVGATE_FUZZ_EXAMPLES=5000 .venv/bin/pytest -p no:cacheprovider tests/fuzz -k fuzz`
(a fresh random seed each run, printed on failure; `GOVGATE_FUZZ_SEED=N` repeats one).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, Phase, given, note, seed, settings
from hypothesis import strategies as st

from policies.errors import DutyError
from tests.fuzz.conftest import AGENCIES, bad_authorizations
from tests.fuzz.harness import Violation, check_exchange
from tests.fuzz.oracle import check_answer
from tests.fuzz.strategies import (
    Body,
    Operation,
    encode_json,
    json_values,
    odd_text,
    operations,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.fuzz.conftest import Fuzzed
    from tests.fuzz.harness import Exchange

#: Examples per test by hand (`GOVGATE_FUZZ_EXAMPLES`); CI's counts are below.
LONG_RUN = int(os.environ.get("GOVGATE_FUZZ_EXAMPLES", "0"))
_SEED = os.environ.get("GOVGATE_FUZZ_SEED")


def fuzzing(examples: int) -> Callable[[Any], Any]:
    """Hypothesis settings for one fuzz test: `examples` and a fixed seed in CI, more and a
    random seed by hand; a generous deadline per example (a freeze fails it)."""

    def apply(test: Any) -> Any:
        configured = settings(
            max_examples=LONG_RUN or examples,
            derandomize=not LONG_RUN,
            database=None,
            deadline=timedelta(seconds=10),
            suppress_health_check=[
                HealthCheck.too_slow,
                HealthCheck.data_too_large,
                HealthCheck.filter_too_much,
            ],
            # No shrinking: every step is HTTP requests, and the failure already shows the
            # exchange that broke the property (request, answer, records).
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
            print_blob=True,
        )(test)
        return seed(int(_SEED))(configured) if _SEED and LONG_RUN else configured

    return apply


#: Content types an operation may arrive with; the gateway reads JSON whatever it says.
_CONTENT_TYPES = [
    b"application/json",
    b"application/json",
    b"application/json",
    b"application/json; charset=utf-8",
    b"text/plain",
    b"application/graphql",
    b"application/x-www-form-urlencoded",
    b"multipart/form-data; boundary=x",
    b"application/json; charset=latin-1",
    b"\xff/\xfe",
]
#: Odd X-Request-Id values: the gateway must not take them as they are.
_REQUEST_IDS: list[bytes | None] = [
    b"",
    b" ",
    b"a" * 65,
    b"id with spaces",
    b"\xff\xfe",
    b"../../etc",
    b"x.y",
    b"\xe2\x80\xae",
    b"a\tb",
    b"fz-plain-but-mine",
]


def _duty_headers(fuzzed: Fuzzed, agency: str) -> st.SearchStrategy[list[bytes]]:
    own = list(fuzzed.policy.catalog.agency(agency).duties)
    every = fuzzed.duties()
    one = st.sampled_from([*own, *every, "", " ", "\u202e".encode().decode("latin-1")]) | odd_text(
        max_size=10
    ).map(lambda t: t.encode("utf-8", "replace").decode("latin-1"))
    listed = st.lists(one, min_size=1, max_size=3).map(
        lambda values: [
            v.encode("latin-1").replace(b"\r", b"").replace(b"\n", b"").replace(b"\x00", b"")[:200]
            for v in values
        ]
    )
    return st.one_of(st.just([]), st.just([]), st.just([]), listed)


def _expected_grants(fuzzed: Fuzzed, agency: str, duty_values: list[bytes]) -> Any:
    """The grants the gateway answers with, given the duty headers as sent (read as `bind_duty`
    in gateway/app.py reads them), or None when it must refuse the duty."""
    asked = ",".join(v.decode("latin-1") for v in duty_values).strip() or None
    try:
        return fuzzed.policy.bound_grants(agency, asked)
    except DutyError:
        return None


def _send_operations(
    fuzzed: Fuzzed,
    data: st.DataObject,
    agency: str,
    operations_: list[Operation],
    *,
    batch: bool,
) -> None:
    """POST the operations as `agency` (with whatever headers are drawn), check the answer,
    its grants and districts, and its one audit record."""
    view = fuzzed.views[agency]
    payload: Any = [o.body() for o in operations_] if batch else operations_[0].body()
    content = encode_json(payload, ascii_only=data.draw(st.booleans(), label="ascii"))
    bad = data.draw(st.sampled_from([False] * 9 + [True]), label="bad token?")
    authorization = (
        data.draw(st.sampled_from(bad_authorizations(fuzzed, agency)), label="bad")
        if bad
        else f"Bearer {view.token}".encode()
    )
    duties = data.draw(_duty_headers(fuzzed, agency), label="duty")
    headers = [
        (b"Authorization", authorization),
        (b"Content-Type", data.draw(st.sampled_from(_CONTENT_TYPES), label="content-type")),
    ]
    headers += [(b"Govgate-Duty", value) for value in duties]
    odd_id = data.draw(st.sampled_from([None] * 9 + _REQUEST_IDS), label="request id")
    note(f"body: {content[:3000]!r}")
    exchange = fuzzed.gateway.send(
        "POST", "/graphql", headers=headers, content=content, request_id=odd_id
    )
    _check(fuzzed, exchange)
    if bad:
        if exchange.response is None or exchange.response.status_code != 401:
            raise Violation(f"a bad token was not refused with 401:\n{exchange.describe()}")
        return
    sent_duties = [v for k, v in exchange.headers.raw if k.lower() == b"govgate-duty"]
    grants = _expected_grants(fuzzed, agency, sent_duties)
    body = exchange.body()
    if grants is None:  # refused as a duty not held (or, first, as a body that is not text)
        if exchange.response is None or exchange.response.status_code not in {400, 403, 413}:
            raise Violation(
                f"a duty the agency does not hold was not refused with 403:\n{exchange.describe()}"
            )
        return
    results = body if isinstance(body, list) else [body]
    if not (isinstance(body, list) and batch and len(body) == len(operations_)):
        results = results[:1]
    for operation, result in zip(operations_, results, strict=False):
        problems = check_answer(
            schema=view.schema,
            grants=grants,
            divisions=fuzzed.divisions,
            query=operation.query,
            operation_name=operation.operation_name if operation.send_name else None,
            variables=operation.variables
            if operation.send_variables and isinstance(operation.variables, dict)
            else None,
            answer=result,
        )
        if problems:
            raise Violation(
                f"{agency} was answered more than its grants allow: {problems}\n"
                f"{exchange.describe()}"
            )


def _check(fuzzed: Fuzzed, exchange: Exchange) -> None:
    try:
        check_exchange(exchange)
    finally:  # the records are settled even when the answer failed a check
        fuzzed.gateway.ledger.settle([exchange])


@pytest.mark.parametrize("agency", AGENCIES)
@fuzzing(examples=150)
@given(data=st.data())
def test_fuzzed_queries_from_an_agencys_own_schema_are_answered_within_its_grants(
    fuzzed: Fuzzed, agency: str, data: st.DataObject
) -> None:
    view = fuzzed.views[agency]
    ops = operations(view.schema, fuzzed.divisions, view.division)
    batch = data.draw(st.sampled_from([False] * 6 + [True]), label="batch?")
    size = data.draw(st.integers(1, 12), label="batch size") if batch else 1
    drawn = [data.draw(ops, label=f"operation {i}") for i in range(size)]
    _send_operations(fuzzed, data, agency, drawn, batch=batch)


def _malformed_bodies(fuzzed: Fuzzed) -> st.SearchStrategy[bytes]:
    view = fuzzed.views["GZ-PSB"]
    valid = operations(view.schema, fuzzed.divisions, None).map(lambda o: encode_json(o.body()))
    nesting = st.integers(1, 49_000).map(lambda n: b"[" * n + b"]" * n)
    objects = st.integers(1, 20_000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n)
    shapes = json_values().map(lambda v: encode_json(v, ascii_only=False))
    members = st.fixed_dictionaries(
        {"query": json_values() | odd_text()},
        optional={"variables": json_values(), "operationName": json_values()},
    ).map(encode_json)
    return st.one_of(
        st.tuples(valid, st.integers(0, 400)).map(lambda t: t[0][: t[1]]),  # truncated
        valid.map(lambda b: b"\xef\xbb\xbf" + b),  # a byte-order mark first
        valid.map(lambda b: b.decode("utf-8", "surrogatepass").encode("utf-16", "surrogatepass")),
        valid.map(lambda b: b.replace(b"{", b"[", 1)),
        nesting,
        objects,
        shapes,
        members,
        st.binary(max_size=300),
        st.sampled_from(
            [
                b"",
                b"null",
                b"[]",
                b"{}",
                b'""',
                b"0",
                b"1e400",
                b"NaN",
                b"[NaN]",
                b"-Infinity",
                b'{"query": "{ me { agency { code } } }", "query": "{ me { readable } }"}',
                b'{"query": 1e400}',
                b'{"query": "{me{agency{code}}}", "variables": {"a": NaN}}',
                b'{"query": "\xed\xa0\x80"}',
                b'{"query": "{me{agency{code}}}", "operationName": "\\ud800"}',
                b'{"query": "{me{agency{code}}}"' + b" " * 100_001 + b"}",
                b"query=%7Bme%7D",
                b"--x\r\nContent-Disposition: form-data\r\n\r\n{}\r\n--x--",
            ]
        ),
    )


_METHODS = ["POST"] * 6 + ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH", "TRACE"]
_PATHS = ["/graphql"] * 6 + [
    "/graphql/",
    "/healthz",
    "/readyz",
    "/admin/policy/reload",
    "/static/graphiql/govgate.js",
    "/static/../gateway/app.py",
    "/nope",
    "/%00",
    "/graphql?query=%7Bme%7Bagency%7Bcode%7D%7D%7D",
    "/" + "a" * 5_000,
    "/metrics",
    "/console",
    "/graphql%00",
    "//graphql",
]


@fuzzing(examples=150)
@given(data=st.data())
def test_malformed_bodies_methods_and_paths_are_refused_in_json_and_recorded(
    fuzzed: Fuzzed, data: st.DataObject
) -> None:
    method = data.draw(st.sampled_from(_METHODS), label="method")
    path = data.draw(st.sampled_from(_PATHS), label="path")
    content = data.draw(_malformed_bodies(fuzzed).map(Body), label="body")
    headers = [
        (b"Authorization", f"Bearer {fuzzed.views['GZ-PSB'].token}".encode()),
        (b"Content-Type", data.draw(st.sampled_from(_CONTENT_TYPES))),
    ]
    if data.draw(st.booleans(), label="accept html"):
        headers.append((b"Accept", b"text/html"))
    note(f"body: {content[:2000]!r}")
    exchange = fuzzed.gateway.send(method, path, headers=headers, content=content)
    _check(fuzzed, exchange)


@fuzzing(examples=60)
@given(data=st.data())
def test_bad_expired_and_foreign_tokens_are_refused_and_recorded(
    fuzzed: Fuzzed, data: st.DataObject
) -> None:
    agency = data.draw(st.sampled_from(AGENCIES), label="agency")
    authorization = data.draw(st.sampled_from(bad_authorizations(fuzzed, agency)))
    headers = [(b"Authorization", authorization), (b"Content-Type", b"application/json")]
    exchange = fuzzed.gateway.send(
        "POST", "/graphql", headers=headers, content=b'{"query": "{ me { agency { code } } }"}'
    )
    _check(fuzzed, exchange)
    assert exchange.response is not None
    assert exchange.response.status_code == 401, exchange.describe()
    assert exchange.body()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "x-govgate-agency" not in exchange.response.headers
