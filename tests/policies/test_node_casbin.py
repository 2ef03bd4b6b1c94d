"""The compiled Casbin files load in node-casbin and give the same decisions as pycasbin.

govgate enforces with pycasbin, but the two files it compiles are meant for any Casbin: this
module compiles the shipped catalogue with its author rules, asks both implementations the same
requests (tests/interop/decide.mjs for node-casbin) and compares every answer. Named acceptance
cases are then checked on node-casbin's answers alone, so a mistake both implementations share
still fails.

Needs Node.js and `npm ci --prefix tests/interop`; skipped without them, except when CI=true.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from policies.catalog import load_catalog
from policies.compiler import compile_policy, write_policy
from policies.enforcer import build_enforcer
from policies.rules import load_rules
from sources.inventory import BY_ENTITY, field_names

if TYPE_CHECKING:
    from collections.abc import Sequence

pytestmark = pytest.mark.node

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "catalog" / "guangzhou.yaml"
RULES = REPO / "catalog" / "guangzhou.rules.csv"
INTEROP = REPO / "tests" / "interop"
DECIDE = "tests/interop/decide.mjs"  # relative to REPO, where node runs

DAY = "2026-11-26"
AFTER_TEMPORARY_RULE = "2027-01-01"  # the TH-CA education grant ends on 2026-12-31
METHODS = ("query", "verify")
ENTITIES = ("Person", "LegalEntity", "LandParcel", "License")
SCOPES = ("scope:city", "scope:division")
NODE_TIMEOUT = 120  # seconds
SHOWN_MISMATCHES = 10

Request = tuple[str, str, str, str]


def _requests(agencies: Sequence[str]) -> list[Request]:
    requests: list[Request] = [
        (agency, ref, method, DAY)
        for agency in agencies
        for ref in field_names()
        for method in METHODS
    ]
    requests += [
        (agency, entity, scope, DAY)
        for agency in agencies
        for entity in ENTITIES
        for scope in SCOPES
    ]
    requests += [(agency, "platform", "administer", DAY) for agency in agencies]
    requests.append(("TH-CA", "Person.education", "query", AFTER_TEMPORARY_RULE))
    return requests


def _require_node() -> None:
    """Skip without Node.js or the npm packages; under CI=true, fail instead."""
    missing = []
    if shutil.which("node") is None:
        missing.append("`node` is not on PATH")
    if not (INTEROP / "node_modules").is_dir():
        missing.append("tests/interop/node_modules is absent")
    if not missing:
        return
    reason = (
        f"node-casbin comparison cannot run: {'; '.join(missing)}. Install Node.js and run "
        "`npm ci --prefix tests/interop` from the repository root."
    )
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def _run_node(model: Path, policy: Path, requests: Sequence[Request]) -> list[bool]:
    try:
        done = subprocess.run(
            ["node", DECIDE, str(model), str(policy)],
            input=json.dumps(requests),
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=NODE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"node {DECIDE} took longer than {NODE_TIMEOUT} s for {len(requests)} requests")
    if done.returncode != 0:
        pytest.fail(f"node {DECIDE} exited with status {done.returncode}:\n{done.stderr}")
    try:
        answer: object = json.loads(done.stdout)
    except json.JSONDecodeError as error:
        pytest.fail(f"node {DECIDE} printed no JSON ({error}):\n{done.stdout[:2000]}")
    if not isinstance(answer, list) or not all(isinstance(item, bool) for item in answer):
        pytest.fail(f"node {DECIDE} printed {done.stdout[:200]!r}, not a JSON array of booleans")
    if len(answer) != len(requests):
        pytest.fail(f"node {DECIDE} gave {len(answer)} decisions for {len(requests)} requests")
    return [bool(item) for item in answer]


@dataclass
class Comparison:
    """The compiled files, the requests, pycasbin's decisions and (on demand) node-casbin's."""

    model: Path
    policy: Path
    requests: list[Request]
    python: list[bool]
    _node: list[bool] | None = field(default=None, repr=False)

    def node(self) -> list[bool]:
        """node-casbin's decisions, computed once; skips or fails here if node cannot run."""
        _require_node()
        if self._node is None:
            self._node = _run_node(self.model, self.policy, self.requests)
        return self._node

    def node_allows(self, request: Request) -> bool:
        """node-casbin's decision on one request of the compared set."""
        assert request in self.requests, f"{request} is not among the compared requests"
        return self.node()[self.requests.index(request)]


@pytest.fixture(scope="module")
def comparison(tmp_path_factory: pytest.TempPathFactory) -> Comparison:
    catalog = load_catalog(CATALOG)
    compiled = compile_policy(catalog, load_rules(RULES, catalog))
    model, policy = write_policy(compiled, tmp_path_factory.mktemp("compiled"))
    requests = _requests([agency.code for agency in catalog.agencies])
    enforcer = build_enforcer(compiled)
    python = [bool(enforcer.enforce(*request)) for request in requests]
    return Comparison(model, policy, requests, python)


def test_node_casbin_decides_every_request_as_pycasbin_does(comparison: Comparison) -> None:
    node = comparison.node()
    pairs = zip(comparison.requests, comparison.python, node, strict=True)
    mismatches = [
        f"{request}: pycasbin {python}, node-casbin {answer}"
        for request, python, answer in pairs
        if python != answer
    ]
    assert not mismatches, (
        f"{len(mismatches)} of {len(comparison.requests)} decisions differ; the first ones:\n"
        + "\n".join(mismatches[:SHOWN_MISMATCHES])
    )


def test_the_comparison_covers_both_allowed_and_denied_requests(comparison: Comparison) -> None:
    node = comparison.node()
    assert any(node)
    assert not all(node)


def _fields(entity: str) -> list[str]:
    return [f"{entity}.{f.name}" for f in BY_ENTITY[entity].fields]


def _case(agency: str, obj: str, act: str, allowed: bool, day: str = DAY) -> object:
    verdict = "may" if allowed else "may not"
    return pytest.param(
        (agency, obj, act, day), allowed, id=f"{agency} {verdict} {act} {obj} on {day}"
    )


ACCEPTANCE = [
    # Civil affairs in Tianhe: marital status by duty, only its own district's people.
    _case("TH-CA", "Person.maritalStatus", "query", True),
    _case("TH-CA", "Person", "scope:division", True),
    _case("TH-CA", "Person", "scope:city", False),
    # The temporary author rule: in force on DAY, ended after 2026-12-31.
    _case("TH-CA", "Person.education", "query", True),
    _case("TH-CA", "Person.education", "query", False, AFTER_TEMPORARY_RULE),
    # Market supervision: unconditional person fields only, every entity and licence field.
    _case("GZ-AMR", "Person.name", "query", True),
    _case("GZ-AMR", "Person.idNumber", "query", True),
    _case("GZ-AMR", "Person.phone", "query", False),
    _case("GZ-AMR", "Person.birthDate", "query", False),
    *(_case("GZ-AMR", ref, "query", True) for ref in _fields("LegalEntity")),
    *(_case("GZ-AMR", ref, "query", True) for ref in _fields("License")),
    # Planning and natural resources: every parcel field, city-wide.
    *(_case("GZ-PNR", ref, "query", True) for ref in _fields("LandParcel")),
    _case("GZ-PNR", "LandParcel", "scope:city", True),
    # A district tax bureau sees its own division only.
    _case("PY-TAX", "LegalEntity", "scope:division", True),
    _case("PY-TAX", "LegalEntity", "scope:city", False),
    _case("PY-TAX", "LandParcel", "scope:division", True),
    _case("PY-TAX", "LandParcel", "scope:city", False),
    # The water utility may verify an identity but query nothing.
    _case("GZ-WATER", "Person.name", "verify", True),
    *(_case("GZ-WATER", ref, "query", False) for ref in field_names()),
    # Not shareable and secret fields are denied even to the police.
    _case("GZ-PSB", "Person.religion", "query", False),
    _case("GZ-PSB", "Person.classifiedPost", "query", False),
    # The author deny rule overrides the provident fund centre's catalogue grant only.
    _case("GZ-HPF", "Person.maritalStatus", "query", False),
    _case("GZ-PSB", "Person.maritalStatus", "query", True),
    # Only the platform administrator administers the platform.
    _case("GZ-DATA", "platform", "administer", True),
    _case("GZ-PSB", "platform", "administer", False),
]


@pytest.mark.parametrize(("asked", "allowed"), ACCEPTANCE)
def test_node_casbin_gives_the_catalogue_s_intended_decision(
    comparison: Comparison, asked: Request, allowed: bool
) -> None:
    assert comparison.node_allows(asked) is allowed
