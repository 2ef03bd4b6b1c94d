"""The catalogue's meaning checks, run beside its JSON Schema check.

Every check appends a Problem instead of stopping, so a policy author sees all of them at once.
Items the schema already found broken are skipped here (their shape cannot be trusted), but
their names still count, so one typo does not make every reference to it "unknown".
"""

from __future__ import annotations

from difflib import get_close_matches
from typing import TYPE_CHECKING, Any

from policies._yaml import dotted
from policies.errors import Problem
from sources.derivations import derivations
from sources.inventory import SOURCES

if TYPE_CHECKING:
    from collections.abc import Iterable

    from policies._yaml import LineMap, Path

__all__ = ["check_catalog", "unknown"]


def unknown(kind: str, name: str, known: Iterable[str]) -> str:
    """`unknown duty 'x'; did you mean 'y'?` (or the list of known names when nothing is close)."""
    known = [str(k) for k in known]
    close = get_close_matches(str(name), known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"
    return f"unknown {kind} {name!r}; {hint}"


class _Checker:
    def __init__(
        self, document: dict[str, Any], lines: LineMap, name: str, broken: set[Path]
    ) -> None:
        self.document = document
        self.lines = lines
        self.name = name
        self.broken = broken
        self.problems: list[Problem] = []

    def report(self, path: Path, message: str) -> None:
        self.problems.append(Problem(self.name, self.lines.line(path), dotted(path), message))

    def is_broken(self, path: Path) -> bool:
        """True when the schema found a problem at, inside, or above `path`."""
        return any(b[: len(path)] == path or path[: len(b)] == b for b in self.broken)

    def items(self, section: str) -> list[tuple[Path, dict[str, Any]]]:
        """The section's mapping items with their paths (none if the section is malformed)."""
        value = self.document.get(section)
        if not isinstance(value, list):
            return []
        return [((section, i), item) for i, item in enumerate(value) if isinstance(item, dict)]

    def names(self, section: str, key: str) -> dict[str, dict[str, Any]]:
        seen: dict[str, dict[str, Any]] = {}
        for path, item in self.items(section):
            value = item.get(key)
            if not isinstance(value, str):
                continue
            if value in seen:
                self.report((*path, key), f"{value!r} is listed twice in {section}; keep one")
            else:
                seen[value] = item
        return seen

    def run(self) -> list[Problem]:
        divisions = self.names("divisions", "code")
        duties = self.names("duties", "id")
        agencies = self.names("agencies", "code")
        self.names("datasets", "id")
        administrator = self.document.get("administrator")
        if (
            isinstance(administrator, str)
            and not self.is_broken(("administrator",))
            and administrator not in agencies
        ):
            self.report(("administrator",), unknown("agency", administrator, agencies))
        for path, agency in self.items("agencies"):
            if not self.is_broken(path):
                self.check_agency(path, agency, divisions, duties)
        for path, dataset in self.items("datasets"):
            self.check_dataset(path, dataset, agencies, duties)
        self.check_one_provider_per_field()
        return self.problems

    def check_agency(
        self, path: Path, agency: dict[str, Any], divisions: dict[str, Any], duties: dict[str, Any]
    ) -> None:
        division = divisions.get(agency["division"])
        if division is None:
            self.report((*path, "division"), unknown("division", agency["division"], divisions))
        elif division.get("level") != agency["level"]:
            self.report(
                (*path, "level"),
                f"a {agency['level']}-level agency cannot belong to {division.get('level')}-level "
                f"division {agency['division']} ({division.get('name')}) (Art. 21)",
            )
        for i, duty in enumerate(agency["duties"]):
            if duty not in duties:
                self.report((*path, "duties", i), unknown("duty", duty, duties))
        required = agency.get("require_duty", self.document.get("require_duty") is True)
        if required is True and not agency["duties"]:
            self.report(
                (*path, "duties"),
                "this agency must name the duty each request serves (require_duty) but holds "
                "no duty, so it could never be answered; give it its duties, or set "
                "require_duty: false for it (Art. 18)",
            )

    def check_dataset(
        self, path: Path, dataset: dict[str, Any], agencies: dict[str, Any], duties: dict[str, Any]
    ) -> None:
        provider = dataset.get("provider")
        if (
            isinstance(provider, str)
            and not self.is_broken((*path, "provider"))
            and provider not in agencies
        ):
            self.report((*path, "provider"), unknown("agency", provider, agencies))
        if self.is_broken((*path, "source")) or self.is_broken((*path, "entity")):
            return
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
        fields = dataset.get("fields")
        if not isinstance(fields, dict):
            return
        inventory = [f.name for f in source.fields]
        for field, share in fields.items():
            where = (*path, "fields", field)
            if field not in inventory:
                self.report(where, unknown(f"{source.entity} field", field, inventory))
            elif not self.is_broken(where):
                self.check_share(where, share, duties)
                self.check_acknowledgements(where, f"{source.entity}.{field}", share)

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

    def check_acknowledgements(self, path: Path, ref: str, share: dict[str, Any]) -> None:
        """`acknowledges` names fields this field really reveals, each with a reason, on an
        entry that lets someone read it (docs/catalog.md, "Identifiers carry data")."""
        acknowledged = share.get("acknowledges", {})
        if not acknowledged:
            return
        where = (*path, "acknowledges")
        if share["sharing"] == "none" or "query" not in share.get("methods", ["query"]):
            self.report(
                where,
                f"this entry lets no one read {ref} (not shareable, or verify only), so its "
                "value reveals nothing to acknowledge; remove acknowledges",
            )
            return
        revealed = [d.revealed for d in derivations(ref)]
        for other, reason in acknowledged.items():
            if other not in revealed:
                declared = ", ".join(revealed) or "nothing"
                self.report(
                    (*where, other),
                    f"the field inventory does not say {ref} reveals {other} (it reveals "
                    f"{declared}); acknowledge only what it declares, or remove this line",
                )
            elif not reason.strip():
                self.report(
                    (*where, other),
                    f"say why readers of {ref} may learn {other}: the reason is the point of "
                    "an acknowledgement",
                )

    def check_one_provider_per_field(self) -> None:
        # Art. 12-14: one authoritative provider per item. One provider may list a field in
        # several entries (say, query for some duties and verify for others), never two.
        first: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        for path, dataset in self.items("datasets"):
            fields = dataset.get("fields")
            keys = [(*path, key) for key in ("id", "provider", "entity")]
            if any(self.is_broken(key) for key in keys) or not isinstance(fields, dict):
                continue
            for field, share in fields.items():
                ref = f"{dataset['entity']}.{field}"
                where = (*path, "fields", field)
                if self.is_broken(where):
                    continue
                if ref not in first:
                    first[ref] = (dataset, share)
                    continue
                other_set, other = first[ref]
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


def check_catalog(
    document: dict[str, Any], lines: LineMap, name: str, *, broken: set[Path]
) -> list[Problem]:
    """Every meaning problem in a catalogue document, skipping what the schema found broken."""
    return _Checker(document, lines, name, broken).run()
