"""The catalogue's meaning checks, run after its shape passed the JSON Schema.

Every check appends a Problem instead of stopping, so a policy author sees all of them at once.
"""

from __future__ import annotations

from difflib import get_close_matches
from typing import TYPE_CHECKING, Any

from policies._yaml import dotted
from policies.errors import Problem
from sources.inventory import SOURCES

if TYPE_CHECKING:
    from collections.abc import Iterable

    from policies._yaml import LineMap, Path

__all__ = ["check_catalog", "unknown"]


def unknown(kind: str, name: str, known: Iterable[str]) -> str:
    """`unknown duty 'x'; did you mean 'y'?` (or the list of known names when nothing is close)."""
    known = list(known)
    close = get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"
    return f"unknown {kind} {name!r}; {hint}"


class _Checker:
    def __init__(self, document: dict[str, Any], lines: LineMap, name: str) -> None:
        self.document = document
        self.lines = lines
        self.name = name
        self.problems: list[Problem] = []

    def report(self, path: Path, message: str) -> None:
        self.problems.append(Problem(self.name, self.lines.line(path), dotted(path), message))

    def unique(self, section: str, key: str) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for index, item in enumerate(self.document[section]):
            value = item[key]
            if value in seen:
                self.report((section, index, key), f"{value!r} is listed twice in {section}")
            else:
                seen[value] = item
        return seen

    def run(self) -> list[Problem]:
        divisions = self.unique("divisions", "code")
        duties = self.unique("duties", "id")
        agencies = self.unique("agencies", "code")
        self.unique("datasets", "id")
        if self.document["administrator"] not in agencies:
            self.report(
                ("administrator",), unknown("agency", self.document["administrator"], agencies)
            )
        for index, agency in enumerate(self.document["agencies"]):
            self.check_agency(("agencies", index), agency, divisions, duties)
        for index, dataset in enumerate(self.document["datasets"]):
            self.check_dataset(("datasets", index), dataset, agencies, duties)
        self.check_one_provider_per_field()
        return self.problems

    def check_agency(
        self, path: Path, agency: dict[str, Any], divisions: dict[str, Any], duties: dict[str, Any]
    ) -> None:
        division = divisions.get(agency["division"])
        if division is None:
            self.report((*path, "division"), unknown("division", agency["division"], divisions))
        elif division["level"] != agency["level"]:
            self.report(
                (*path, "level"),
                f"a {agency['level']}-level agency cannot belong to {division['level']}-level "
                f"division {agency['division']} ({division['name']}) (Art. 21)",
            )
        for i, duty in enumerate(agency["duties"]):
            if duty not in duties:
                self.report((*path, "duties", i), unknown("duty", duty, duties))

    def check_dataset(
        self, path: Path, dataset: dict[str, Any], agencies: dict[str, Any], duties: dict[str, Any]
    ) -> None:
        if dataset["provider"] not in agencies:
            self.report((*path, "provider"), unknown("agency", dataset["provider"], agencies))
        source = SOURCES.get(dataset["source"])
        if source is None:
            self.report((*path, "source"), unknown("source", dataset["source"], SOURCES))
            return
        if dataset["entity"] != source.entity:
            self.report(
                (*path, "entity"),
                f"source {source.name!r} holds {source.entity}, not {dataset['entity']!r}",
            )
            return
        inventory = [f.name for f in source.fields]
        for field, share in dataset["fields"].items():
            where = (*path, "fields", field)
            if field not in inventory:
                self.report(where, unknown(f"{source.entity} field", field, inventory))
                continue
            self.check_share(where, share, duties)

    def check_share(self, path: Path, share: dict[str, Any], duties: dict[str, Any]) -> None:
        sharing = share["sharing"]
        named = share.get("duties", [])
        if share.get("secret") and sharing != "none":
            self.report(
                (*path, "sharing"),
                "a secret field can never be shared (Art. 16: no state secrets on the "
                "platform); set sharing: none",
            )
        if sharing == "conditional" and not named:
            self.report(
                (*path, "duties"),
                "a conditional field must name the duties it is shared with (Art. 4: share by "
                "duty); add duties, or make it unconditional",
            )
        if sharing == "unconditional" and named:
            self.report(
                (*path, "duties"),
                "an unconditional field is shared with every agency; remove duties, or make it "
                "conditional",
            )
        if sharing == "none" and (named or "methods" in share):
            self.report(
                (*path, "sharing"),
                "a field that is not shareable takes no duties or methods; remove them",
            )
        for i, duty in enumerate(named):
            if duty not in duties:
                self.report((*path, "duties", i), unknown("duty", duty, duties))

    def check_one_provider_per_field(self) -> None:
        # Art. 12-14: one authoritative provider per item. One provider may list a field in
        # several entries (say, query for some duties and verify for others), never two.
        first: dict[str, tuple[int, dict[str, Any]]] = {}
        for index, dataset in enumerate(self.document["datasets"]):
            for field, share in dataset["fields"].items():
                ref = f"{dataset['entity']}.{field}"
                where = ("datasets", index, "fields", field)
                if ref not in first:
                    first[ref] = (index, share)
                    continue
                other_index, other = first[ref]
                other_set = self.document["datasets"][other_index]
                if other_set["provider"] != dataset["provider"]:
                    self.report(
                        where,
                        f"{ref} is provided by {dataset['provider']} here and by "
                        f"{other_set['provider']} in dataset {other_set['id']!r}; each item has "
                        "one authoritative provider (Art. 13): keep one",
                    )
                elif (share["sharing"] == "none") != (other["sharing"] == "none"):
                    self.report(
                        where,
                        f"{ref} is not shareable in one entry and shared in another "
                        f"(dataset {other_set['id']!r}); decide which",
                    )


def check_catalog(document: dict[str, Any], lines: LineMap, name: str) -> list[Problem]:
    """Every meaning problem in a schema-valid catalogue document."""
    return _Checker(document, lines, name).run()
