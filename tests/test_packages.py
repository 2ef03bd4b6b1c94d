"""Package hygiene: declared public APIs, the layer arrows, and no asserts in package code."""

from __future__ import annotations

import ast
import importlib
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("sources", "policies", "resolvers", "gateway")


@pytest.mark.parametrize(
    "package",
    [
        "sources",
        "policies",
        "resolvers",
        "gateway.trust.audit",
        "gateway.backup",
        "gateway.trust.vouchers",
        "gateway.identity",
        "gateway.settings",
        "gateway.ratelimit",
        "gateway.http.middleware",
    ],
)
def test_every_name_a_package_exports_exists(package: str) -> None:
    module = importlib.import_module(package)
    exported = module.__all__
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), n))
    for name in exported:
        assert hasattr(module, name), f"{package}.__all__ names {name!r}, which it lacks"


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("sources", {"policies", "resolvers", "gateway", "strawberry", "casbin", "starlette"}),
        ("policies", {"resolvers", "gateway", "strawberry", "starlette"}),
        ("resolvers", {"gateway", "starlette", "casbin"}),
    ],
)
def test_layers_only_import_downwards(package: str, forbidden: set[str]) -> None:
    for path in (REPO / package).rglob("*.py"):
        bad = imports_of(path) & forbidden
        assert not bad, f"{path.relative_to(REPO)} imports {sorted(bad)}"


def test_package_code_raises_instead_of_asserting() -> None:
    # Asserts vanish under python -O; checks of input, tokens and permissions must raise.
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            tree = ast.parse(path.read_text("utf-8"))
            asserts = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Assert)]
            assert not asserts, f"{path.relative_to(REPO)} asserts on lines {asserts}"


def test_the_distribution_ships_every_package_and_the_graphiql_files() -> None:
    # setuptools is given an explicit package list: a package left out of it works in the
    # editable checkout and is missing from a real install.
    project = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]
    on_disk = {
        ".".join(init.parent.relative_to(REPO).parts)
        for top in ("gateway", "resolvers", "policies", "sources")
        for init in (REPO / top).rglob("__init__.py")
    }
    assert on_disk == set(project["packages"])
    shipped = project["package-data"]["gateway"]
    static = [p.relative_to(REPO / "gateway") for p in (REPO / "gateway/static").rglob("*.js")]
    assert static
    assert all(any(p.match(pattern) for pattern in shipped) for p in static)
