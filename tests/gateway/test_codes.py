"""The registry of wire codes (gateway.codes) is the one list: the docs' error tables, the audit
trail's decisions and every code the source names agree with it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from gateway.codes import CODES, codes_of_kind
from gateway.errors import WireError
from gateway.trust.trail import Trail

REPO = Path(__file__).resolve().parents[2]
_CODE = re.compile(r"`([A-Z][A-Z_]+)`")


def _table_rows(page: str, heading: str) -> list[list[str]]:
    """The rows (cells) of the first table under `heading` on `page`."""
    text = (REPO / page).read_text("utf-8")
    section = text[text.index(heading) :]
    rows = []
    for line in section.splitlines()[1:]:
        if line.startswith("## "):
            break
        if line.startswith("|") and not line.startswith("|---"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows[1:]  # without the header


def test_the_gateway_error_table_lists_every_registered_code_with_its_status() -> None:
    listed: dict[str, str] = {}
    for code_cell, _when, http in _table_rows("docs/gateway.md", "## Errors"):
        for name in _CODE.findall(code_cell):
            listed[name] = http
    registered = {name for name, code in CODES.items() if code.page == "docs/gateway.md"}
    assert set(listed) == registered
    for name, http in listed.items():
        status = CODES[name].status
        assert (str(status) if status is not None else "none") in http, name


def test_the_workflow_error_table_names_only_registered_codes() -> None:
    listed = {
        name
        for _class, code_cell, _when in _table_rows("docs/workflows.md", "## Errors")
        for name in _CODE.findall(code_cell)
    }
    assert listed <= CODES.keys()
    assert {name for name, code in CODES.items() if code.page == "docs/workflows.md"} <= listed


def _named_codes() -> set[tuple[str, str]]:
    """(file, code) for every code the source names: `code = "X"` in a class, `code="X"` as
    an argument, `"code": "X"` in a dict, `"X"` as the first argument of a Throttle."""
    found = set()
    for package in ("gateway", "resolvers", "policies", "sources"):
        for path in (REPO / package).rglob("*.py"):
            where = str(path.relative_to(REPO))
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                values: list[ast.expr] = []
                if isinstance(node, ast.Assign | ast.AnnAssign):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    if any(isinstance(t, ast.Name) and t.id == "code" for t in targets):
                        values.append(node.value) if node.value else None
                elif isinstance(node, ast.keyword) and node.arg == "code":
                    values.append(node.value)
                elif isinstance(node, ast.Dict):
                    values += [v for k, v in zip(node.keys, node.values, strict=True)
                               if isinstance(k, ast.Constant) and k.value == "code"]  # fmt: skip
                elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Throttle":
                    values += node.args[:1]
                for value in values:
                    for item in ast.walk(value):
                        if isinstance(item, ast.Constant) and isinstance(item.value, str) \
                                and re.fullmatch(r"[A-Z][A-Z_]+", item.value):  # fmt: skip
                            found.add((where, item.value))
    return found


def test_every_code_the_source_names_is_registered() -> None:
    named = _named_codes()
    assert len(named) > 20  # the walk finds them
    unregistered = sorted(f"{where}: {code}" for where, code in named if code not in CODES)
    assert not unregistered


def test_a_code_nobody_registered_cannot_become_a_wire_error() -> None:
    with pytest.raises(KeyError):
        WireError("a typo", code="FORBIDEN_FIELD")


@pytest.mark.parametrize(
    ("code", "decision"),
    [(name, "failed") for name in sorted(codes_of_kind("failure"))]
    + [(name, "refused") for name in sorted(codes_of_kind("refusal") - {"UNAUTHENTICATED"})]
    + [(name, "allowed") for name in sorted(codes_of_kind("answered"))],
)
def test_the_audit_decision_follows_the_registered_kind(code: str, decision: str) -> None:
    trail = Trail("/graphql", "req-1", "2026-01-01T00:00:00.000000Z")
    trail.result({"data": None, "errors": [{"message": "m", "extensions": {"code": code}}]})
    assert trail.decision == decision
