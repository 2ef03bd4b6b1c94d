"""Strict YAML loading for policy files, remembering the line of every value.

Beyond YAML itself it refuses what would let a file say one thing to a reviewer and another to
the compiler: anchors and aliases (and their exponential expansion), duplicate keys (the last
would silently win), keys that are not text, and control or line-separator characters in values
(they could end a line of the compiled policy early).
"""

from __future__ import annotations

import unicodedata
from typing import Any

import yaml

from policies.errors import CatalogError, Problem

__all__ = ["LineMap", "Path", "dotted", "load_with_lines"]

Path = tuple[str | int, ...]
_STR = "tag:yaml.org,2002:str"
# Line breaks are fine inside free-text descriptions, which never reach the compiled policy.
_MULTILINE_KEYS = frozenset({"description"})


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


def dotted(path: Path) -> str:
    """`("datasets", 2, "fields", "name")` as `datasets[2].fields.name`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _bad_character(text: str, *, multiline: bool) -> str | None:
    for char in text:
        if multiline and char == "\n":
            continue
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            return f"U+{ord(char):04X}"
    return None


class _Walker:
    def __init__(self, name: str) -> None:
        self.name = name
        self.lines: dict[Path, int] = {}
        self.problems: list[Problem] = []

    def problem(self, node: yaml.Node, path: Path, message: str) -> None:
        self.problems.append(Problem(self.name, node.start_mark.line + 1, dotted(path), message))

    def walk(self, node: yaml.Node, path: Path) -> None:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode) or key.tag != _STR:
                    shown = key.value if isinstance(key, yaml.ScalarNode) else "(a collection)"
                    self.problem(key, path, f"the key {shown} is not text; put it in quotes")
                    continue
                child = (*path, key.value)
                if key.value in seen:
                    self.problem(
                        key, child, "this key appears twice here; the second would silently "
                        "replace the first: keep one",
                    )  # fmt: skip
                seen.add(key.value)
                self.lines[child] = key.start_mark.line + 1
                self.walk(value, child)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.walk(item, (*path, index))
        elif isinstance(node, yaml.ScalarNode):
            multiline = bool(path) and path[-1] in _MULTILINE_KEYS
            bad = _bad_character(node.value, multiline=multiline)
            if bad:
                self.problem(
                    node, path, f"contains the control or line-break character {bad}; remove it"
                )


def _line_of(event: yaml.Event) -> int | None:
    mark = event.start_mark
    return mark.line + 1 if mark is not None else None


def load_with_lines(text: str, *, name: str) -> tuple[Any, LineMap]:
    """Parse policy YAML; raises CatalogError listing every problem, each with its line."""
    problems: list[Problem] = []
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            anchor = getattr(event, "anchor", None)
            if isinstance(event, yaml.AliasEvent) or anchor:
                problems.append(
                    Problem(name, _line_of(event), "",
                            "anchors and aliases (&name, *name) are not allowed here; "
                            "write each value out")
                )  # fmt: skip
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(error, "problem", None) or str(error)
        raise CatalogError([Problem(name, line, "", f"is not valid YAML: {reason}")]) from None
    if problems:
        raise CatalogError(problems)
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is None:
        raise CatalogError([Problem(name, None, "", "is empty; see docs/catalog.md")])
    walker = _Walker(name)
    walker.walk(root, ())
    if walker.problems:
        raise CatalogError(walker.problems)
    document = yaml.SafeLoader("").construct_document(root)
    return document, LineMap(walker.lines)
