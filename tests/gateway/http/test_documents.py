"""Trusted documents over real HTTP: persisted queries (Apollo's protocol), GET, required mode
per agency, approval and revocation by `govgate documents`, and plans compiled ahead."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner

from gateway.cli import main
from gateway.graphql.plan import PLANS
from gateway.http.app import create_app
from gateway.settings import DocumentOptions, Settings
from tests.conftest import NOW
from tests.gateway.conftest import LiveServer, isolated
from tests.gateway.http.test_audit import audit_of

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    import httpx

#: Runs on GZ-PSB's and TH-CA's schemas (TH-CA sees its own district: Art. 21).
CODES = "query Codes { persons(first: 2) { edges { node { divisionCode } } } }"
REQUIRED = "TH-CA"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def persisted(digest: str, version: object = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": digest}}


@dataclasses.dataclass
class Deployment:
    server: LiveServer
    folder: Path
    token_for: Callable[[str], str]

    def post(self, agency: str, body: object) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token_for(agency)}"}
        return self.server.client.post("/graphql", json=body, headers=headers)

    def get(self, agency: str, **params: object) -> httpx.Response:
        query = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
        headers = {"Authorization": f"Bearer {self.token_for(agency)}"}
        return self.server.client.get(f"/graphql?{urlencode(query)}", headers=headers)

    def cli(self, *args: str) -> str:
        result = CliRunner().invoke(main, ["documents", *args, "--data", str(self.folder)])
        assert result.exit_code == 0, result.output
        return result.output

    def wait_until(self, check: Callable[[], bool]) -> None:
        """The gateway follows the log within a second on SQLite: wait for it, bounded."""
        deadline = time.monotonic() + 10
        while not check():
            assert time.monotonic() < deadline, "the gateway did not follow the documents' log"
            time.sleep(0.05)


@pytest.fixture(scope="module")
def deployment(
    seeded: Path, tmp_path_factory: pytest.TempPathFactory, token_for: Callable[[str], str]
) -> Iterator[Deployment]:
    folder = tmp_path_factory.mktemp("documents")
    settings = dataclasses.replace(
        isolated(Settings.demo(seeded), folder),
        documents=DocumentOptions(require_registered=(REQUIRED,)),
    )
    with LiveServer(create_app(settings, clock=lambda: NOW)) as server:
        yield Deployment(server, folder, token_for)


def code_of(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["extensions"]["code"]
    return code


def test_a_persisted_query_is_registered_with_its_text_then_runs_by_its_hash(
    deployment: Deployment,
) -> None:
    digest = sha(CODES)
    unknown = deployment.post("GZ-PSB", {"extensions": persisted(digest)})
    assert unknown.status_code == 200
    assert code_of(unknown) == "PERSISTED_QUERY_NOT_FOUND"
    assert "data" not in unknown.json()
    asked = audit_of(deployment.folder, unknown.headers["x-request-id"])
    assert asked["decision"] == "refused"
    assert asked["errorCodes"] == ["PERSISTED_QUERY_NOT_FOUND"]
    assert asked["operations"] == [{"name": None, "sha256": digest}]  # the hash asked for
    sent = deployment.post("GZ-PSB", {"query": CODES, "extensions": persisted(digest)})
    data = sent.json()["data"]
    assert len(data["persons"]["edges"]) == 2
    by_hash = deployment.post("GZ-PSB", {"extensions": persisted(digest), "operationName": "Codes"})
    assert by_hash.json()["data"] == data
    record = audit_of(deployment.folder, by_hash.headers["x-request-id"])
    assert record["decision"] == "allowed"
    assert record["operations"] == [{"name": "Codes", "sha256": digest}]  # the text's hash


def test_a_hash_that_is_not_the_texts_is_refused(deployment: Deployment) -> None:
    wrong = deployment.post("GZ-PSB", {"query": CODES, "extensions": persisted(sha("other"))})
    assert code_of(wrong) == "BAD_REQUEST"
    assert sha(CODES) in wrong.json()["errors"][0]["message"]
    assert "data" not in wrong.json()
    version = deployment.post("GZ-PSB", {"query": CODES, "extensions": persisted(sha(CODES), 2)})
    assert code_of(version) == "PERSISTED_QUERY_NOT_SUPPORTED"


def test_a_query_by_get_is_answered_audited_and_kept_private(deployment: Deployment) -> None:
    text = "query Get { persons(first: 1) { edges { node { divisionCode } } } }"
    deployment.post("GZ-PSB", {"query": text, "extensions": persisted(sha(text))})
    response = deployment.get("GZ-PSB", extensions=persisted(sha(text)), operationName="Get")
    assert response.status_code == 200
    assert len(response.json()["data"]["persons"]["edges"]) == 1
    assert response.headers["cache-control"] == "private, no-cache"
    assert response.headers["vary"] == "Authorization, Govgate-Duty"
    record = audit_of(deployment.folder, response.headers["x-request-id"])
    assert record["decision"] == "allowed"
    assert record["agency"] == "GZ-PSB"
    assert record["operations"] == [{"name": "Get", "sha256": sha(text)}]
    assert "Query.persons" in record["fields"]
    # The text itself in the URL runs too, with variables as JSON.
    text = "query V($n: Int) { persons(first: $n) { edges { node { divisionCode } } } }"
    plain = deployment.get("GZ-PSB", query=text, variables={"n": 2})
    assert len(plain.json()["data"]["persons"]["edges"]) == 2


def test_a_mutation_by_get_is_refused_and_recorded(deployment: Deployment) -> None:
    response = deployment.get("GZ-PSB", query="mutation M { __typename }")
    assert response.status_code == 405
    assert code_of(response) == "METHOD_NOT_ALLOWED"
    assert response.headers["allow"] == "POST"
    record = audit_of(deployment.folder, response.headers["x-request-id"])
    assert record["decision"] == "refused"
    assert record["errorCodes"] == ["METHOD_NOT_ALLOWED"]


def test_head_runs_no_operation(deployment: Deployment) -> None:
    headers = {"Authorization": f"Bearer {deployment.token_for('GZ-PSB')}"}
    response = deployment.server.client.head("/graphql?query=%7B__typename%7D", headers=headers)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


def test_a_url_past_its_limit_is_refused(deployment: Deployment) -> None:
    response = deployment.get("GZ-PSB", query="{ " + "__typename " * 1_000 + "}")
    assert response.status_code == 414
    assert code_of(response) == "URI_TOO_LONG"


def test_the_graphiql_page_is_still_served_to_browsers(deployment: Deployment) -> None:
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    page = deployment.server.client.get("/graphql", headers=browser)
    assert page.status_code == 200
    assert 'id="token"' in page.text
    # A GraphiQL link (the editor prefilled): a browser without a token gets the page, no data.
    link = "/graphql?" + urlencode(
        {"query": "{ persons(first: 1) { edges { node { divisionCode } } } }"}
    )
    page = deployment.server.client.get(link, headers=browser)
    assert page.status_code == 200
    assert 'id="token"' in page.text
    assert "cache-control" not in page.headers or "private" not in page.headers["cache-control"]
    # The same URL with a token is an API call, whatever it accepts: answered and recorded.
    token = {"Authorization": f"Bearer {deployment.token_for('GZ-PSB')}"}
    called = deployment.server.client.get(link, headers={**browser, **token})
    assert called.status_code == 200
    assert len(called.json()["data"]["persons"]["edges"]) == 1
    record = audit_of(deployment.folder, called.headers["x-request-id"])
    assert record["decision"] == "allowed"
    assert "Query.persons" in record["fields"]


def test_another_agencys_document_is_as_unknown_as_no_document(deployment: Deployment) -> None:
    text = "query Mine { persons(first: 1) { edges { node { divisionCode } } } }"
    deployment.post("GZ-PSB", {"query": text, "extensions": persisted(sha(text))})
    assert deployment.post("GZ-PSB", {"extensions": persisted(sha(text))}).json()["data"]
    theirs = deployment.post("GZ-AMR", {"extensions": persisted(sha(text))}).json()
    nobodys = deployment.post("GZ-AMR", {"extensions": persisted(sha("nobody's"))}).json()
    assert "data" not in theirs
    assert theirs["errors"][0]["extensions"] == nobodys["errors"][0]["extensions"]
    assert theirs["errors"][0]["message"].replace(sha(text), "H") == nobodys["errors"][0][
        "message"
    ].replace(sha("nobody's"), "H")


def test_a_required_agency_runs_approved_documents_only_until_revoked(
    deployment: Deployment, tmp_path: Path
) -> None:
    text = "query Approved { persons(first: 2) { edges { node { divisionCode } } } }"
    digest = sha(text)
    refused = deployment.post(REQUIRED, {"query": text, "extensions": persisted(digest)})
    assert code_of(refused) == "DOCUMENT_NOT_APPROVED"
    assert "data" not in refused.json()
    record = audit_of(deployment.folder, refused.headers["x-request-id"])
    assert record["decision"] == "refused"
    assert "DOCUMENT_NOT_APPROVED" in record["errorCodes"]
    # Not registered by sending it: still unknown by its hash.
    assert code_of(deployment.post(REQUIRED, {"extensions": persisted(digest)})) == (
        "PERSISTED_QUERY_NOT_FOUND"
    )
    # The schema alone may still be explored (GraphiQL): it reads no base data.
    schema = deployment.post(REQUIRED, {"query": "{ __schema { queryType { name } } }"})
    assert schema.json()["data"]["__schema"]["queryType"]["name"] == "Query"

    file = tmp_path / "approved.graphql"
    file.write_text(text, "utf-8")
    printed = deployment.cli("approve", "--agency", REQUIRED, str(file), "--note", "T-1")
    assert printed.splitlines()[0] == digest
    documents = deployment.server.app.state.gateway.documents
    deployment.wait_until(lambda: documents.find(REQUIRED, digest) is not None)
    by_text = deployment.post(REQUIRED, {"query": text})
    assert len(by_text.json()["data"]["persons"]["edges"]) == 2
    by_get = deployment.get(REQUIRED, extensions=persisted(digest))
    assert by_get.json()["data"] == by_text.json()["data"]
    listed = deployment.cli("list", "--agency", REQUIRED)
    assert f"{digest}\t{REQUIRED}\tapproved" in listed
    assert "\tT-1\t" in listed

    deployment.cli("revoke", digest, "--agency", REQUIRED, "--note", "T-2")
    deployment.wait_until(lambda: documents.find(REQUIRED, digest).status == "revoked")
    for response in (
        deployment.post(REQUIRED, {"query": text}),
        deployment.post(REQUIRED, {"extensions": persisted(digest)}),
    ):
        assert code_of(response) == "DOCUMENT_NOT_APPROVED"
        assert "revoked" in response.json()["errors"][0]["message"]
    assert f"{digest}\t{REQUIRED}\trevoked" in deployment.cli("list")


def test_an_approved_documents_plan_is_compiled_before_its_first_request(
    deployment: Deployment, tmp_path: Path
) -> None:
    text = "query Ahead { persons(first: 3) { edges { node { divisionCode } } } }"
    file = tmp_path / "ahead.graphql"
    file.write_text(text, "utf-8")
    before = PLANS.compiled
    digest = deployment.cli("approve", "--agency", "GZ-PSB", str(file)).splitlines()[0]
    documents = deployment.server.app.state.gateway.documents
    deployment.wait_until(lambda: documents.find("GZ-PSB", digest) is not None)
    compiled = PLANS.compiled
    assert compiled > before  # compiled when the approval arrived, for each of GZ-PSB's duties
    answer = deployment.post("GZ-PSB", {"extensions": persisted(digest), "operationName": "Ahead"})
    assert len(answer.json()["data"]["persons"]["edges"]) == 3
    assert PLANS.compiled == compiled  # the first request found its plan in the cache


def test_approved_documents_are_compiled_when_the_gateway_starts(
    seeded: Path, tmp_path: Path, token_for: Callable[[str], str]
) -> None:
    text = "query AtStart { persons(first: 4) { edges { node { divisionCode } } } }"
    file = tmp_path / "start.graphql"
    file.write_text(text, "utf-8")
    approve = ["documents", "approve", "--agency", "GZ-PSB", str(file), "--data", str(tmp_path)]
    approved = CliRunner().invoke(main, approve)  # before any gateway runs on this database
    assert approved.exit_code == 0, approved.output
    settings = isolated(Settings.demo(seeded), tmp_path)
    before = PLANS.compiled
    with LiveServer(create_app(settings, clock=lambda: NOW)) as server:
        started = PLANS.compiled
        assert started > before  # compiled while starting, before any request
        deployment = Deployment(server, tmp_path, token_for)
        answer = deployment.post("GZ-PSB", {"extensions": persisted(sha(text))})
        assert len(answer.json()["data"]["persons"]["edges"]) == 4
        assert PLANS.compiled == started  # the first request was a cache hit


def test_the_cli_refuses_an_unknown_agency_and_a_document_that_is_not_graphql(
    deployment: Deployment, tmp_path: Path
) -> None:
    file = tmp_path / "bad.graphql"
    file.write_text("{ persons(", "utf-8")
    runner = CliRunner()
    data = ["--data", str(deployment.folder)]
    bad = runner.invoke(main, ["documents", "approve", "--agency", "GZ-PSB", str(file), *data])
    assert bad.exit_code == 2
    assert "not a GraphQL document" in bad.output
    file.write_text(CODES, "utf-8")
    unknown = runner.invoke(main, ["documents", "approve", "--agency", "XX-NONE", str(file), *data])
    assert unknown.exit_code == 2
    assert "not an agency of the catalogue" in unknown.output
    missing = runner.invoke(main, ["documents", "revoke", "0" * 64, "--agency", "GZ-PSB", *data])
    assert missing.exit_code == 2
    assert "no document" in missing.output
