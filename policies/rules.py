"""Hand-written author rules: Casbin lines a policy author adds beside the catalogue.

One rule a line, in the compiled policy's own column order:

    p, SUBJECT, OBJECT, ACTION, EFFECT, UNTIL, NOTE

SUBJECT is an agency code or `duty:<id>`; OBJECT a field `Type.field`, every field of a type
`Type.*`, or a type `Type` for its row scope; ACTION `query`, `verify`, `*`, or (on a type)
`scope:city` / `scope:division`; EFFECT `allow` or `deny`; UNTIL `*` or the last day the rule
applies (YYYY-MM-DD: a temporary grant); NOTE why, in words (no commas). Lines
starting with `#` are comments. Every name is checked against the catalogue (Art. 19 and 9:
out-of-catalogue access is the government's decision, so each rule says who approved it).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from policies._validate import unknown
from policies.catalog import read_policy_file
from policies.errors import Problem, RulesError
from sources.inventory import BY_ENTITY

if TYPE_CHECKING:
    from policies.catalog import Catalog

__all__ = ["AuthorRule", "default_rules_path", "load_rules", "parse_rules"]

_FIELD_ACTIONS = ("query", "verify", "*")
_SCOPE_ACTIONS = ("scope:city", "scope:division")
_SAFE_FILE_NAME = re.compile(r"[A-Za-z0-9._-]+")
_CONTROL = frozenset({"Cc", "Cf", "Zl", "Zp"})


@dataclass(frozen=True, slots=True)
class AuthorRule:
    """One validated author rule and where it came from."""

    file: str
    line: int
    subject: str
    object: str
    action: str
    effect: str
    until: str
    note: str

    @property
    def source_tag(self) -> str:
        """The tag the compiled rule carries back to this line: `rules:FILE:LINE`."""
        return f"rules:{Path(self.file).name}:{self.line}"

    def columns(self) -> tuple[str, ...]:
        """The compiled policy line's columns after `p`."""
        return (self.subject, self.object, self.action, self.effect, self.until, self.source_tag)


def default_rules_path(catalog_path: str | Path) -> Path:
    """Where the author rules of a catalogue live by default: `<name>.rules.csv` beside it."""
    path = Path(catalog_path)
    return path.with_name(f"{path.stem}.rules.csv")


def load_rules(path: str | Path, catalog: Catalog) -> tuple[AuthorRule, ...]:
    """Load and check the author rules at `path`; raises RulesError with every problem."""
    path = Path(path)
    return parse_rules(read_policy_file(path, RulesError), catalog, name=str(path))


def parse_rules(text: str, catalog: Catalog, *, name: str = "<rules>") -> tuple[AuthorRule, ...]:
    """Check author rules `text` against `catalog`; raises RulesError with every problem."""
    rules: list[AuthorRule] = []
    problems: list[Problem] = []
    if not _SAFE_FILE_NAME.fullmatch(Path(name).name):
        problems.append(
            Problem(name, None, "", "the file name goes into every compiled rule's source tag: "
                    "use only letters, digits, '.', '_' and '-'")
        )  # fmt: skip
    # Split on "\n" only, as Casbin's file adapters do: other line breaks stay inside a line
    # (and are refused below), so a rule can never hide inside a comment.
    text = text.removeprefix("\ufeff")  # the byte-order mark spreadsheet tools write
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.removesuffix("\r").strip()
        bad = next((c for c in line if unicodedata.category(c) in _CONTROL), None)
        if bad is not None:
            problems.append(
                Problem(name, number, "", f"contains the control or line-break character "
                        f"U+{ord(bad):04X}; remove it")
            )  # fmt: skip
            continue
        if not line or line.startswith("#"):
            continue
        found = _check_line(line, catalog)
        if isinstance(found, list):
            problems += [Problem(name, number, "", message) for message in found]
            continue
        subject, obj, action, effect, until, note = found
        rules.append(AuthorRule(name, number, subject, obj, action, effect, until, note))
    if problems:
        raise RulesError(problems)
    return tuple(rules)


def _check_line(line: str, catalog: Catalog) -> tuple[str, str, str, str, str, str] | list[str]:
    columns = [c.strip() for c in line.split(",")]
    if columns[0] == "g":
        return [
            "author rules cannot change who holds a duty; change the agency's duties in the "
            "catalogue instead"
        ]
    if columns[0] != "p":
        return [f"a rule starts with 'p', not {columns[0]!r}"]
    if len(columns) != 7:
        return [
            f"a rule has 7 columns (p, subject, object, action, effect, until, note), not "
            f"{len(columns)}; notes may not contain commas"
        ]
    _, subject, obj, action, effect, until, note = columns
    problems = [
        problem
        for problem in (
            _check_subject(subject, catalog),
            _check_object(obj, action),
            _check_effect(effect, obj, action, catalog),
            _check_until(until),
            None if note else "every rule needs a note saying why (who approved it, which ticket)",
        )
        if problem
    ]
    return problems or (subject, obj, action, effect, until, note)


def _check_subject(subject: str, catalog: Catalog) -> str | None:
    if subject.startswith("duty:"):
        duties = [d.id for d in catalog.duties]
        duty = subject.removeprefix("duty:")
        return None if duty in duties else unknown("duty", duty, duties)
    agencies = [a.code for a in catalog.agencies]
    if subject not in agencies:
        return unknown("agency", subject, agencies) + " (or write duty:<id> for a duty)"
    return None


def _check_object(obj: str, action: str) -> str | None:
    entity, dot, field = obj.partition(".")
    source = BY_ENTITY.get(entity)
    if source is None:
        return unknown("type", entity, BY_ENTITY)
    if not dot:
        if action not in _SCOPE_ACTIONS:
            return (
                f"a type alone ({entity}) is a row scope: its action is scope:city or "
                "scope:division"
            )
        return None
    if action not in _FIELD_ACTIONS:
        return f"unknown action {action!r} on a field; use query, verify or *"
    if field != "*" and field not in (f.name for f in source.fields):
        return unknown(f"{entity} field", field, (f.name for f in source.fields))
    return None


def _check_effect(effect: str, obj: str, action: str, catalog: Catalog) -> str | None:
    if effect not in ("allow", "deny"):
        return f"the effect is allow or deny, not {effect!r}"
    if effect == "deny" and action == "query":
        # Verifying guesses one value at a time reads a field with few values (a status, a
        # marital status): a deny that leaves verification open does not stop the reading.
        return (
            "a deny on query alone leaves verify open, and verifying guesses reads the value; "
            "write * to deny both (or verify to deny only verification)"
        )
    if effect == "allow" and obj.endswith(".*"):
        return "grant fields one by one: allowing Type.* would include fields that are not shared"
    if effect == "allow":
        for share in catalog.shares_of(obj):
            if share.sharing == "none":
                article = "Art. 16: no state secrets" if share.secret else "the catalogue"
                return f"{obj} is not shareable ({article}); no rule can grant it"
    return None


def _check_until(until: str) -> str | None:
    if until == "*":
        return None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", until):
            date.fromisoformat(until)
            return None
    except ValueError:
        pass
    return f"until is * or a date like 2026-12-31, not {until!r}"
