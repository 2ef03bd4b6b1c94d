"""A gateway of its own for workflow tests over HTTP: copies of the seeded sources (objections
correct a provider's row), its own audit database and keys, its own author-rules file (approvals
write into it), and a clock the test moves; plus a console session driven over plain HTTP."""

from __future__ import annotations

import dataclasses
import re
import shutil
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from gateway.http.app import create_app
from gateway.identity.dev_keys import dev_signing_key, issue_token
from gateway.settings import Settings
from policies.catalog import SHIPPED_CATALOG
from policies.rules import default_rules_path
from tests.gateway.conftest import LiveServer

if TYPE_CHECKING:
    from pathlib import Path

TIANHE = "440106"
ADMIN, TIANHE_CA, MARRIAGE, POLICE = "GZ-DATA", "TH-CA", "GZ-CA", "GZ-PSB"


@dataclass
class MovableClock:
    """The gateway's clock; tests set it (aware, UTC)."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 26, 8, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Deployment:
    """Where a test gateway keeps everything."""

    folder: Path
    settings: Settings
    clock: MovableClock

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def rules(self) -> Path:
        assert self.settings.rules is not None
        return self.settings.rules

    def token(self, agency: str, officer: str | None = None) -> str:
        return issue_token(dev_signing_key(self.data), agency=agency, officer=officer)

    def sql(self, source: str, statement: str, *parameters: object) -> list[tuple[Any, ...]]:
        """Run SQL on a copied source (the provider's own database, in a correction)."""
        with closing(sqlite3.connect(self.data / f"{source}.db")) as connection:
            rows = connection.execute(statement, parameters).fetchall()
            connection.commit()
        return rows

    def audit(self, where: str = "1=1") -> list[str]:
        """The audit records' content, oldest first."""
        with closing(sqlite3.connect(self.folder / "audit.db")) as connection:
            rows = connection.execute(
                f"SELECT content FROM audit_log WHERE {where} ORDER BY at, chain, seq"
            ).fetchall()
        return [str(r[0]) for r in rows]


def make_deployment(folder: Path, seeded: Path) -> Deployment:
    data = folder / "data"
    shutil.copytree(seeded, data)
    rules = folder / "rules.csv"
    shutil.copy(default_rules_path(SHIPPED_CATALOG), rules)
    settings = dataclasses.replace(
        Settings.demo(data),
        rules=rules,
        audit_url=f"sqlite+aiosqlite:///{folder / 'audit.db'}",
        signing_keys=folder / "keys",
    )
    return Deployment(folder, settings, MovableClock())


def serve(deployment: Deployment) -> LiveServer:
    return LiveServer(create_app(deployment.settings, clock=deployment.clock))


class Agency:
    """GraphQL over HTTP as one agency (and officer)."""

    def __init__(self, http: httpx.Client, token: str) -> None:
        self.http = http
        self.token = token

    def ask(self, query: str, **variables: object) -> dict[str, Any]:
        response = self.http.post(
            "/graphql",
            json={"query": query, "variables": variables or None},
            headers={"Authorization": f"Bearer {self.token}"},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def codes(answer: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in answer.get("errors") or ()]


class ConsoleSession:
    """The console over plain HTTP, as a browser holding the session cookie would use it."""

    def __init__(self, base_url: str, token: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30, follow_redirects=False)
        self.base_url = base_url
        sign_in = self.http.get("/console")
        answer = self.http.post(
            "/console/sign-in",
            data={"csrf": csrf_of(sign_in.text), "token": token},
            headers={"Origin": base_url},
        )
        assert answer.status_code == 303, answer.text
        self.page("/console")

    def page(self, path: str, **params: str) -> httpx.Response:
        response = self.http.get(path, params=params or None)
        self.csrf = csrf_of(response.text) if 'name="csrf"' in response.text else ""
        return response

    def step(self, path: str, **form: str) -> httpx.Response:
        """Open the case page, then post the step's form from it."""
        self.page(path.rsplit("/", 1)[0])
        return self.http.post(path, data={"csrf": self.csrf, **form},
                              headers={"Origin": self.base_url})  # fmt: skip

    def close(self) -> None:
        self.http.close()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found is not None, html[:500]
    return found.group(1)


def notice_of(html: str) -> str:
    """The text of the page's notice or error box."""
    found = re.findall(r'<div class="notice"[^>]*>(.*?)</div>|class="error"[^>]*>(.*?)</p>', html,
                       re.S)  # fmt: skip
    return " ".join(" ".join(parts) for parts in found)


def tianhe_records(deployment: Deployment) -> tuple[str, str]:
    """A Tianhe person's ID number and a Tianhe licence number, from the copied sources."""
    (person,) = deployment.sql(
        "persons", "SELECT id_number FROM persons WHERE division_code = ? ORDER BY id_number "
        "LIMIT 1", TIANHE,
    )  # fmt: skip
    (licence,) = deployment.sql(
        "licenses", "SELECT license_number FROM licenses WHERE division_code = ? ORDER BY "
        "license_number LIMIT 1", TIANHE,
    )  # fmt: skip
    return str(person[0]), str(licence[0])
