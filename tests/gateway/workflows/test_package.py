"""The workflows package: its declared API, its layer, and its modules' size."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

from tests.test_packages import imports_of

PACKAGE = Path(__file__).resolve().parents[3] / "gateway" / "workflows"


def test_every_name_the_package_exports_exists_in_order() -> None:
    module = importlib.import_module("gateway.workflows")
    exported = module.__all__
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), n))
    for name in exported:
        assert hasattr(module, name), f"gateway.workflows.__all__ names {name!r}, which it lacks"


#: The wiring (issue 13): GraphQL, the CLI, and what connects the core to the gateway.
WIRING = {
    "api.py": {"strawberry"},
    "api_types.py": {"strawberry"},
    "commands.py": {"click"},
    "objection_commands.py": {"click"},
    "cli_support.py": {"click"},
    "publishing.py": set(),
    "recording.py": set(),
    "seams.py": set(),
    "services.py": set(),
}


def test_the_core_imports_no_web_graphql_or_cli_code() -> None:
    # The wiring (GraphQL, console, CLI) sits on top; the core stays below it.
    forbidden = {"strawberry", "starlette", "click", "uvicorn"}
    for path in PACKAGE.glob("*.py"):
        bad = imports_of(path) & (forbidden - WIRING.get(path.name, set()))
        assert not bad, f"{path.name} imports {sorted(bad)}"
        assert len(path.read_text("utf-8").splitlines()) <= 300, f"{path.name} is past 300 lines"


def test_the_core_never_imports_its_wiring() -> None:
    wiring = {f"gateway.workflows.{name.removesuffix('.py')}" for name in WIRING}
    for path in PACKAGE.glob("*.py"):
        if path.name in WIRING:
            continue
        tree = ast.parse(path.read_text("utf-8"))
        named = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not named & wiring, f"{path.name} imports the wiring {sorted(named & wiring)}"


def test_every_error_has_a_code_and_derives_from_the_one_root() -> None:
    from gateway.workflows import errors

    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.WorkflowError)
        assert cls.code.isupper()
        assert cls.code.replace("_", "").isalpha()
        assert name in (errors.__doc__ or ""), f"{name} is missing from the tree in the docstring"
