"""YAML loading that remembers the line of every value, so problems can point at it."""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["LineMap", "load_with_lines"]

Path = tuple[str | int, ...]


class LineMap:
    """Maps a path inside the document (keys and list indexes) to its 1-based line."""

    def __init__(self, lines: dict[Path, int]) -> None:
        self._lines = lines

    def line(self, path: Path) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        while path:
            if path in self._lines:
                return self._lines[path]
            path = path[:-1]
        return self._lines.get((), None)


def _walk(node: yaml.Node, path: Path, lines: dict[Path, int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                child = (*path, key.value)
                lines[child] = key.start_mark.line + 1
                _walk(value, child, lines)
                lines[child] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), lines)


def load_with_lines(text: str) -> tuple[Any, LineMap]:
    """Parse YAML text; raises yaml.YAMLError (with its own line) when it is not YAML."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    lines: dict[Path, int] = {}
    if root is not None:
        _walk(root, (), lines)
    return yaml.safe_load(text), LineMap(lines)


def dotted(path: Path) -> str:
    """`("datasets", 2, "fields", "name")` as `datasets[2].fields.name`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
