"""The rooms of `gateway/` and the arrows between them (docs/architecture.md draws them).

Every import of every module counts: at the top, inside functions, under TYPE_CHECKING. A room
imports only the rooms its arrows allow; no two modules import each other, however indirectly;
click stays in the command line, starlette and uvicorn in the HTTP room; and importing the app
loads no click.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("gateway", "resolvers", "policies", "sources")

#: Modules at the top of `gateway/` every room may import: they import no room themselves.
BASE = {"errors", "codes", "files", "follow", "tracing"}
#: Each room of `gateway/` and the rooms it may import (besides BASE). Keep in step with the
#: arrows in docs/architecture.md.
ARROWS: dict[str, set[str]] = {
    "cli": {
        "http",
        "trust",
        "policy",
        "identity",
        "ratelimit",
        "settings",
        "provision",
        "backup",
        "workflows",
    },
    "provision": {"trust", "policy", "identity", "ratelimit", "settings", "workflows"},
    "http": {"graphql", "trust", "policy", "identity", "ratelimit", "settings", "workflows"},
    "policy": {"graphql", "settings"},
    "graphql": {"settings", "workflows"},  # the workflows' GraphQL fields (graphql/workflows)
    "trust": {"settings"},
    "ratelimit": {"settings"},
    "identity": set(),
    "settings": {"identity"},  # the demo deployment's development key
    "backup": {"settings"},
    "workflows": {"trust", "settings"},
    # the base modules: errors names the codes; the others import no room
    "errors": {"codes"},
    "codes": set(),
    "files": set(),
    "follow": set(),
    "tracing": {"errors"},  # spans: every room marks its work; OpenTelemetry stays in here
}
#: Third-party packages only one room may import.
CONFINED = {
    "click": {"cli"},
    "starlette": {"http"},
    "uvicorn": {"http"},
    "opentelemetry": {"tracing"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {
    _module_name(path): path for package in PACKAGES for path in (REPO / package).rglob("*.py")
}


def _imported(path: Path) -> set[str]:
    """Every module `path` imports (dotted), wherever the import statement stands."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = {f"{node.module}.{alias.name}" for alias in node.names}
            found = submodules & MODULES.keys()
            names |= found
            if len(found) < len(submodules):  # something other than a submodule: the module
                names.add(node.module)
    return names


def _known(name: str) -> str | None:
    """The project module `name` is, or is inside (`gateway.x.Y` -> `gateway.x`)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _edges() -> dict[str, set[str]]:
    """Module -> the project modules it imports; a module's own packages do not count (Python
    imports them before it in any case)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in MODULES.items():
        for imported in _imported(path):
            target = _known(imported)
            if target and target != name and not name.startswith(f"{target}."):
                graph[name].add(target)
    return graph


def _room(module: str) -> str:
    """`gateway.http.app` -> `http`; `gateway.errors` -> `errors`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "gateway"


def test_every_room_of_the_gateway_has_its_arrows_declared() -> None:
    rooms = {_room(name) for name in MODULES if name.startswith("gateway.")}
    assert rooms <= ARROWS.keys(), (
        f"{sorted(rooms - ARROWS.keys())}: a new room; declare what it may import in ARROWS "
        "and draw it in docs/architecture.md"
    )


def test_rooms_import_only_what_their_arrows_allow() -> None:
    wrong = []
    for module, targets in _edges().items():
        if not module.startswith("gateway."):
            continue
        room = _room(module)
        allowed = ARROWS[room] | {room} | (set() if room in BASE else BASE)
        for target in targets:
            if target.startswith("gateway.") and _room(target) not in allowed:
                wrong.append(f"{module} -> {target}")
    assert not wrong, "imports against the arrows:\n" + "\n".join(sorted(wrong))


def test_nothing_below_the_gateway_imports_it() -> None:
    wrong = [
        f"{module} -> {target}"
        for module, targets in _edges().items()
        if not module.startswith("gateway")
        for target in targets
        if target.startswith("gateway")
    ]
    assert not wrong


def test_no_two_modules_import_each_other_however_indirectly() -> None:
    graph = _edges()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(MODULES):
        if module not in index:
            visit(module)
    assert not circles, f"import circles: {circles}"


@pytest.mark.parametrize("package", sorted(CONFINED))
def test_a_confined_library_is_imported_only_in_its_room(package: str) -> None:
    wrong = [
        module
        for module, path in MODULES.items()
        if module.startswith("gateway.")
        and _room(module) not in CONFINED[package]
        and any(name == package or name.startswith(f"{package}.") for name in _imported(path))
    ]
    assert not wrong, f"{package} imported outside {sorted(CONFINED[package])}: {wrong}"


def test_serving_the_app_never_loads_the_command_line() -> None:
    probe = "import sys, gateway.http.app; print('click' in sys.modules)"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert loaded.stdout.strip() == "False"
