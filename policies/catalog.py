"""The sharing catalogue (Art. 7-9, 14): what each dataset shares, with whom, how, how fresh.

`load_catalog(path)` reads the YAML file, checks it against `catalog.schema.json` and then
against the field inventory and itself, and raises CatalogError listing every problem at once,
each with its line and path in the file. See docs/catalog.md.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import jsonschema

from policies._validate import check_catalog
from policies._yaml import LineMap, dotted, load_with_lines
from policies._yaml import Path as PathParts
from policies.errors import CatalogError, Problem, RulesError, UnknownAgencyError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "SHIPPED_CATALOG",
    "Agency",
    "Catalog",
    "Dataset",
    "Division",
    "Duty",
    "FieldShare",
    "Frequency",
    "load_catalog",
    "parse_catalog",
    "read_policy_file",
]

#: The demo catalogue for Guangzhou shipped with govgate.
SHIPPED_CATALOG = Path(__file__).resolve().parent.parent / "catalog" / "guangzhou.yaml"

Sharing = Literal["unconditional", "conditional", "none"]
Method = Literal["query", "verify"]
AgencyKind = Literal["administrative", "delegated", "utility"]
Level = Literal["city", "district"]
Scope = Literal["city", "division"]


@dataclass(frozen=True, slots=True)
class Division:
    """An administrative division (GB/T 2260)."""

    code: str
    name: str
    level: Level


@dataclass(frozen=True, slots=True)
class Duty:
    """A named responsibility; grants go to duties, agencies hold duties (Art. 4)."""

    id: str
    name: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class Agency:
    """A consumer and/or provider of shared data (Art. 2)."""

    code: str
    name: str
    level: Level
    division: str
    kind: AgencyKind
    duties: tuple[str, ...]
    #: Whether its requests must name the duty they serve; None: as the catalogue's top level.
    require_duty: bool | None = None


@dataclass(frozen=True, slots=True)
class Frequency:
    """How often a dataset is updated (Art. 17): real time, within N days, or quarterly."""

    text: str

    @property
    def max_age(self) -> timedelta:
        """How old the newest record may be before the dataset counts as stale."""
        if self.text == "real time":
            return timedelta(days=1)  # Art. 17 "real time"; a day's grace for batch feeds
        if self.text == "quarterly":
            return timedelta(days=92 + 10)  # a quarter, plus its first ten days (Art. 17)
        match = re.fullmatch(r"within (\d+) days?", self.text)
        if match is None:
            raise ValueError(f"{self.text!r} is not a frequency")
        return timedelta(days=int(match.group(1)))


@dataclass(frozen=True, slots=True)
class FieldShare:
    """How one dataset shares one field: the content, method and scope of Art. 8.

    `acknowledges` are (revealed field, reason) pairs: fields this field's value reveals (the
    field inventory's derivations) that the catalogue knowingly lets its readers learn.
    `line` is where the entry is in the file, for messages.
    """

    dataset: str
    entity: str
    field: str
    sharing: Sharing
    duties: tuple[str, ...]
    methods: tuple[Method, ...]
    secret: bool
    acknowledges: tuple[tuple[str, str], ...] = ()
    line: int | None = dataclasses.field(default=None, compare=False)

    @property
    def ref(self) -> str:
        """The field as `Type.field`."""
        return f"{self.entity}.{self.field}"

    @property
    def source_tag(self) -> str:
        """The tag that compiled rules carry back to this entry: `catalog:datasets/ID/field`."""
        return f"catalog:datasets/{self.dataset}/{self.field}"


@dataclass(frozen=True, slots=True)
class Dataset:
    """A catalogue entry: fields of one source, provided by one agency (Art. 8, 13, 14)."""

    id: str
    name: str
    provider: str
    source: str
    entity: str
    frequency: Frequency
    documentary: bool
    fields: tuple[FieldShare, ...]


@dataclass(frozen=True, slots=True)
class Catalog:
    """A loaded, valid sharing catalogue."""

    path: str
    version: str
    title: str
    administrator: str
    regional_scope: Mapping[Level, Scope]
    unconditional_kinds: tuple[AgencyKind, ...]
    divisions: tuple[Division, ...]
    duties: tuple[Duty, ...]
    agencies: tuple[Agency, ...]
    datasets: tuple[Dataset, ...]
    #: Whether every request must name the duty it serves (Art. 18, 21, 34(4)); agencies may
    #: override it either way.
    require_duty: bool = False

    def duty_required(self, code: str) -> bool:
        """Whether requests of agency `code` must name their duty (`Govgate-Duty`)."""
        agency = self.agency(code)
        return self.require_duty if agency.require_duty is None else agency.require_duty

    def agency(self, code: str) -> Agency:
        """The agency with this code; raises UnknownAgencyError saying which codes exist."""
        for agency in self.agencies:
            if agency.code == code:
                return agency
        known = ", ".join(a.code for a in self.agencies)
        raise UnknownAgencyError(
            f"{code!r} is not an agency in the sharing catalogue ({self.path}); "
            f"the agencies are: {known}."
        )

    def duty(self, duty_id: str) -> Duty:
        """The duty with this id; raises KeyError."""
        for duty in self.duties:
            if duty.id == duty_id:
                return duty
        raise KeyError(duty_id)

    def dataset(self, dataset_id: str) -> Dataset:
        """The dataset with this id; raises KeyError."""
        for dataset in self.datasets:
            if dataset.id == dataset_id:
                return dataset
        raise KeyError(dataset_id)

    def shares_of(self, ref: str) -> list[FieldShare]:
        """Every catalogue entry for the field `Type.field`, in catalogue order."""
        return [share for d in self.datasets for share in d.fields if share.ref == ref]


@cache
def _schema_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((Path(__file__).parent / "catalog.schema.json").read_text("utf-8"))
    return jsonschema.Draft202012Validator(schema)


def read_policy_file(path: Path, error: type[CatalogError] | type[RulesError]) -> str:
    """The text of a catalogue or rules file; raises `error` saying why it cannot be read."""
    try:
        return path.read_text("utf-8-sig")  # -sig: tolerate the BOM spreadsheet tools write
    except FileNotFoundError:
        reason = "no such file; check the path"
    except IsADirectoryError:
        reason = "is a folder; pass the path of the file"
    except UnicodeDecodeError:
        reason = "is not UTF-8 text; save it as UTF-8"
    except OSError as os_error:
        reason = f"cannot be read ({os_error.strerror})"
    raise error([Problem(str(path), None, "", reason)])


def load_catalog(path: str | Path) -> Catalog:
    """Load and validate the catalogue at `path`; raises CatalogError with every problem."""
    path = Path(path)
    return parse_catalog(read_policy_file(path, CatalogError), name=str(path))


def parse_catalog(text: str, *, name: str = "<catalogue>") -> Catalog:
    """Validate catalogue YAML `text`; `name` is how problems refer to the file."""
    document, lines = load_with_lines(text, name=name)
    if not isinstance(document, dict):
        raise CatalogError(
            [Problem(name, 1, "", "must be a mapping of keys (version, title, agencies, ...); "
                                  "see docs/catalog.md")]
        )  # fmt: skip
    problems, broken = _schema_problems(document, lines, name)
    # The meaning checks skip whatever the schema already found broken, and report the rest.
    problems += check_catalog(document, lines, name, broken=broken)
    if problems:
        raise CatalogError(sorted(problems, key=lambda p: (p.line or 0, p.path)))
    return _build(document, lines, name)


# What a value must look like, in words, for the schema's patterns (keyed by the value's name).
_PATTERN_HINTS = {
    "code": "codes look like GZ-PSB (agencies) or '440106' (divisions, in quotes)",
    "division": "a division code is six digits in quotes, e.g. '440106'",
    "administrator": "an agency code looks like GZ-DATA",
    "provider": "an agency code looks like GZ-PSB",
    "id": "ids are lower case words joined by hyphens, e.g. civil-affairs",
    "duties": "duty ids are lower case words joined by hyphens, e.g. civil-affairs",
    "frequency": "write 'real time', 'within N days' (e.g. 'within 3 days') or 'quarterly'",
    "acknowledges": "name the revealed field as Type.field, e.g. Person.birthDate",
}


def _schema_problems(
    document: dict[str, Any], lines: LineMap, name: str
) -> tuple[list[Problem], set[PathParts]]:
    problems, broken = [], set()
    for error in _schema_validator().iter_errors(document):
        path = tuple(error.path)
        message = error.message
        if error.validator == "type" and error.validator_value == "string":
            message = f"{error.instance!r} must be text; write it in quotes: '{error.instance}'"
        elif error.validator == "pattern":
            names = [part for part in path if isinstance(part, str)]
            hint = _PATTERN_HINTS.get(names[-1] if names else "", "see docs/catalog.md")
            message = f"{error.instance!r} is not valid here: {hint}"
        elif error.validator == "additionalProperties":
            message += "; check the spelling against docs/catalog.md"
        elif error.validator == "required":
            message += "; add it (see docs/catalog.md)"
        problems.append(Problem(name, lines.line(path), dotted(path), message))
        if error.validator == "required":
            # The object is fine but for the missing key: only that key is broken.
            missing = re.match(r"'(.+?)' is a required property", error.message)
            path = (*path, missing.group(1)) if missing else path
        broken.add(path)
    return problems, broken


def _build(document: dict[str, Any], lines: LineMap, name: str) -> Catalog:
    datasets = []
    for index, raw in enumerate(document["datasets"]):
        shares = tuple(
            FieldShare(
                dataset=raw["id"],
                entity=raw["entity"],
                field=field,
                sharing=entry["sharing"],
                duties=tuple(entry.get("duties", ())),
                methods=tuple(entry.get("methods", ("query",))),
                secret=bool(entry.get("secret", False)),
                acknowledges=tuple(entry.get("acknowledges", {}).items()),
                line=lines.line(("datasets", index, "fields", field)),
            )
            for field, entry in raw["fields"].items()
        )
        datasets.append(
            Dataset(
                id=raw["id"],
                name=raw["name"],
                provider=raw["provider"],
                source=raw["source"],
                entity=raw["entity"],
                frequency=Frequency(raw["frequency"]),
                documentary=bool(raw.get("documentary", False)),
                fields=shares,
            )
        )
    return Catalog(
        path=name,
        version=document["version"],
        title=document["title"],
        administrator=document["administrator"],
        regional_scope=dict(document["regional_scope"]),
        unconditional_kinds=tuple(document["unconditional_sharing"]["kinds"]),
        divisions=tuple(Division(d["code"], d["name"], d["level"]) for d in document["divisions"]),
        duties=tuple(
            Duty(d["id"], d["name"], d.get("description", "")) for d in document["duties"]
        ),
        agencies=tuple(
            Agency(
                code=a["code"],
                name=a["name"],
                level=a["level"],
                division=a["division"],
                kind=a["kind"],
                duties=tuple(a["duties"]),
                require_duty=a.get("require_duty"),
            )
            for a in document["agencies"]
        ),
        datasets=tuple(datasets),
        require_duty=bool(document.get("require_duty", False)),
    )
