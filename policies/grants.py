"""Per-agency grants, computed once per policy load by asking the Casbin enforcer.

Casbin stays the authority (author rules take effect), but nothing calls `enforce` per field per
row at request time: a `Policy` holds every agency's `Grants`, built when it is loaded. A new
policy is a new `Policy` object, swapped in whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from policies._validate import unknown
from policies.compiler import compile_policy
from policies.enforcer import build_enforcer
from policies.errors import PolicyError, UnknownFieldError
from sources.inventory import BY_ENTITY, SOURCES

if TYPE_CHECKING:
    from collections.abc import Mapping

    import casbin

    from policies.catalog import Agency, Catalog
    from policies.compiler import CompiledPolicy
    from policies.rules import AuthorRule

__all__ = ["METHODS", "Grants", "Policy", "RowScope", "field_ref"]

METHODS: tuple[Literal["query", "verify"], ...] = ("query", "verify")


def field_ref(ref: str) -> tuple[str, str]:
    """Split and check `Type.field`; raises UnknownFieldError naming what exists."""
    entity, _, name = ref.partition(".")
    source = BY_ENTITY.get(entity)
    if source is None:
        known = ", ".join(BY_ENTITY)
        raise UnknownFieldError(
            f"{ref!r}: there is no type {entity!r}; the types are {known}. "
            "Write fields as Type.field, e.g. Person.name."
        )
    names = [f.name for f in source.fields]
    if name not in names:
        raise UnknownFieldError(f"{ref!r}: {unknown(entity + ' field', name, names)}.")
    return entity, name


@dataclass(frozen=True, slots=True)
class RowScope:
    """Which records of a type an agency sees (Art. 21): the whole city, one division, none."""

    kind: Literal["city", "division", "none"]
    division: str | None = None

    def admits(self, division_code: str) -> bool:
        """True when a record of `division_code` is visible under this scope."""
        if self.kind == "city":
            return True
        return self.kind == "division" and division_code == self.division


@dataclass(frozen=True, slots=True)
class Grants:
    """What one agency may do: fields it may read, fields it may verify, rows it sees."""

    agency: Agency
    readable: frozenset[str]
    verifiable: frozenset[str]
    scopes: Mapping[str, RowScope]
    administrator: bool
    day: date

    def _granted(self, method: str) -> frozenset[str]:
        if method == "query":
            return self.readable
        if method == "verify":
            return self.verifiable
        raise ValueError(f"The method is query or verify, not {method!r}.")

    def can(self, method: str, ref: str) -> bool:
        """May the agency `query` or `verify` the field `Type.field`?"""
        return ref in self._granted(method)

    def fields(self, entity: str, method: str = "query") -> tuple[str, ...]:
        """The granted fields of `entity` for `method`, in inventory order."""
        allowed = self._granted(method)
        return tuple(f.name for f in BY_ENTITY[entity].fields if f"{entity}.{f.name}" in allowed)

    @property
    def signature(self) -> tuple[frozenset[str], frozenset[str]]:
        """Agencies with equal signatures can share one schema (rows are scoped separately)."""
        return (self.readable, self.verifiable)


@dataclass(frozen=True)
class Policy:
    """A compiled policy in force: the catalogue, the enforcer, and every agency's grants."""

    catalog: Catalog
    compiled: CompiledPolicy
    enforcer: casbin.Enforcer
    day: date
    grants: dict[str, Grants] = field(repr=False)

    @classmethod
    def build(
        cls, catalog: Catalog, rules: tuple[AuthorRule, ...] = (), *, day: date | None = None
    ) -> Policy:
        """Compile `catalog` and `rules` and compute every agency's grants as of `day`."""
        return cls.load(catalog, compile_policy(catalog, rules), day=day)

    @classmethod
    def load(
        cls,
        catalog: Catalog,
        compiled: CompiledPolicy,
        *,
        day: date | None = None,
        precompute: bool = True,
    ) -> Policy:
        """Load compiled files for `catalog` and compute every agency's grants as of `day`.

        `precompute=False` computes an agency's grants when first asked instead (for one-off
        tools like `policy explain`; a server precomputes). Raises PolicyError when the files
        were compiled from another catalogue version or cannot be loaded.
        """
        compiled_from = compiled.catalog_version
        if compiled_from is not None and compiled_from != catalog.version:
            raise PolicyError(
                f"The compiled policy was compiled from catalogue version {compiled_from}, but "
                f"{catalog.path} is version {catalog.version}; compile it again."
            )
        day = day or date.today()
        enforcer = build_enforcer(compiled)
        grants: dict[str, Grants] = {}
        if precompute:
            for agency in catalog.agencies:
                grants[agency.code] = _agency_grants(enforcer, agency, day)
        return cls(catalog, compiled, enforcer, day, grants)

    @classmethod
    def with_grants(
        cls, catalog: Catalog, compiled: CompiledPolicy, day: date, decided: dict[str, Any]
    ) -> Policy:
        """The policy with grants decided elsewhere (`grants_json()` of the same compiled files
        on the same day): how other gateway processes adopt a published policy in
        milliseconds rather than asking the enforcer again for every agency and field."""
        if decided.get("version") != compiled.version or decided.get("day") != day.isoformat():
            raise PolicyError("The decided grants belong to another policy or day; decide again.")
        grants = {}
        for agency in catalog.agencies:
            found = decided["agencies"][agency.code]
            grants[agency.code] = Grants(
                agency=agency,
                readable=frozenset(found["readable"]),
                verifiable=frozenset(found["verifiable"]),
                scopes=MappingProxyType(
                    {e: RowScope(kind, division) for e, (kind, division) in found["scopes"].items()}
                ),
                administrator=bool(found["administrator"]),
                day=day,
            )
        return cls(catalog, compiled, build_enforcer(compiled), day, grants)

    def grants_json(self) -> dict[str, Any]:
        """Every agency's grants as JSON, for `with_grants` in another process."""
        return {
            "version": self.version,
            "day": self.day.isoformat(),
            "agencies": {
                code: {
                    "readable": sorted(g.readable),
                    "verifiable": sorted(g.verifiable),
                    "scopes": {e: [s.kind, s.division] for e, s in g.scopes.items()},
                    "administrator": g.administrator,
                }
                for code, g in self.grants.items()
            },
        }

    @property
    def version(self) -> str:
        """The compiled files' content hash."""
        return self.compiled.version

    def grants_for(self, agency_code: str) -> Grants:
        """The agency's grants; raises UnknownAgencyError for a code the catalogue lacks."""
        grants = self.grants.get(agency_code)
        if grants is None:
            agency = self.catalog.agency(agency_code)  # raises UnknownAgencyError
            grants = _agency_grants(self.enforcer, agency, self.day)
            self.grants[agency_code] = grants  # only when loaded with precompute=False
        return grants

    def decide(self, agency_code: str, obj: str, action: str) -> bool:
        """Ask the enforcer directly (for explanations and checks, not the request path)."""
        return bool(self.enforcer.enforce(agency_code, obj, action, self.day.isoformat()))


def _agency_grants(enforcer: casbin.Enforcer, agency: Agency, day: date) -> Grants:
    today = day.isoformat()
    allowed: dict[str, set[str]] = {method: set() for method in METHODS}
    for source in SOURCES.values():
        for spec in source.fields:
            ref = f"{source.entity}.{spec.name}"
            for method in METHODS:
                if enforcer.enforce(agency.code, ref, method, today):
                    allowed[method].add(ref)
    scopes: dict[str, RowScope] = {}
    for source in SOURCES.values():
        if enforcer.enforce(agency.code, source.entity, "scope:city", today):
            scopes[source.entity] = RowScope("city")
        elif enforcer.enforce(agency.code, source.entity, "scope:division", today):
            scopes[source.entity] = RowScope("division", agency.division)
        else:
            scopes[source.entity] = RowScope("none")
    return Grants(
        agency=agency,
        readable=frozenset(allowed["query"]),
        verifiable=frozenset(allowed["verify"]),
        scopes=MappingProxyType(scopes),
        administrator=bool(enforcer.enforce(agency.code, "platform", "administer", today)),
        day=day,
    )
