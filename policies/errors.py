"""Errors raised by the policy layer.

PolicyError
├── CatalogError          (the catalogue has problems: carries every one, with its path)
├── RulesError            (the author rules have problems: likewise)
├── UnknownAgencyError    (an agency code that the catalogue does not list)
├── UnknownFieldError     (a Type.field that the field inventory does not have)
└── DutyError             (a request cannot be served under the duty it names, or names none)
    ├── DutyRequiredError (the catalogue says the agency must name its duty; it named none)
    └── DutyNotHeldError  (the named duty is not one the agency holds)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CatalogError",
    "DutyError",
    "DutyNotHeldError",
    "DutyRequiredError",
    "PolicyError",
    "Problem",
    "RulesError",
    "UnknownAgencyError",
    "UnknownFieldError",
]


class PolicyError(Exception):
    """Root of every error raised by `policies`."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a file: where (file, line, path inside the document) and what."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class _ProblemsError(PolicyError):
    what = "file"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        count = len(problems)
        lines = "\n".join(f"  {p}" for p in problems)
        noun, them = ("problem", "it") if count == 1 else ("problems", "them")
        super().__init__(f"The {self.what} has {count} {noun}; fix {them} and try again:\n{lines}")


class CatalogError(_ProblemsError):
    """The sharing catalogue cannot be used; `problems` lists every reason."""

    what = "sharing catalogue"


class RulesError(_ProblemsError):
    """The author rules cannot be merged; `problems` lists every reason."""

    what = "author rules file"


class UnknownAgencyError(PolicyError):
    """The agency code is not in the catalogue."""


class UnknownFieldError(PolicyError):
    """The field is not in the field inventory."""


class DutyError(PolicyError):
    """A request cannot be served under the duty it names (or it names none but must).

    `agency` is the agency's code, `asked` the duty named (None: none), and `held` the agency's
    duties as (id, name) pairs, so a refusal can say which duties it may name.
    """

    def __init__(
        self, message: str, *, agency: str, asked: str | None, held: tuple[tuple[str, str], ...]
    ) -> None:
        super().__init__(message)
        self.agency = agency
        self.asked = asked
        self.held = held


class DutyRequiredError(DutyError):
    """The catalogue requires the agency to name the duty a request serves; it named none."""


class DutyNotHeldError(DutyError):
    """The duty named is not one the agency holds (or not a duty at all)."""
