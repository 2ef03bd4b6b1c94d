"""Per-agency grants, computed once per policy load by asking the Casbin enforcer.

Casbin stays the authority (author rules take effect), but nothing calls `enforce` per field per
row at request time: a `Policy` holds every agency's `Grants`, built when it is loaded, and the
grants of each agency under each of its duties (its duty views, policies.duties). A new policy
is a new `Policy` object, swapped in whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from policies._validate import unknown
from policies.compiler import compile_policy
from policies.duties import check_duty, duty_view
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

#: Row scopes from the narrowest to the widest.
_SCOPE_ORDER = ("none", "division", "city")

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

    def narrower(self, other: RowScope) -> RowScope:
        """The narrower of two scopes of the same agency."""
        if _SCOPE_ORDER.index(other.kind) < _SCOPE_ORDER.index(self.kind):
            return other
        return self


@dataclass(frozen=True, slots=True)
class Grants:
    """What one agency may do: fields it may read, fields it may verify, rows it sees."""

    agency: Agency
    readable: frozenset[str]
    verifiable: frozenset[str]
    scopes: Mapping[str, RowScope]
    administrator: bool
    day: date
    #: The duty these grants are bound to (Art. 18, 21); None: all of the agency's duties.
    duty: str | None = None

    def _granted(self, method: str) -> frozenset[str]:
        if method == "query":
            return self.readable
        if method == "verify":
            return self.verifiable
        raise ValueError(f"The method is query or verify, not {method!r}.")

    def granted(self, method: str) -> frozenset[str]:
        """Every `Type.field` the agency may `query` or `verify`."""
        return self._granted(method)

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
    #: (agency, duty) -> the agency's grants under that duty alone (policies.duties).
    duty_grants: dict[tuple[str, str], Grants] = field(default_factory=dict, repr=False)

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
        policy = cls(catalog, compiled, enforcer, day, {})
        if precompute:
            for agency in catalog.agencies:
                policy.grants[agency.code] = _agency_grants(enforcer, agency, day)
            policy.decide_duties()
        return policy

    @classmethod
    def with_grants(
        cls, catalog: Catalog, compiled: CompiledPolicy, day: date, decided: dict[str, Any]
    ) -> Policy:
        """The policy with grants decided elsewhere (`grants_json()` of the same compiled files
        on the same day): how other gateway processes adopt a published policy in
        milliseconds rather than asking the enforcer again for every agency and field."""
        if decided.get("version") != compiled.version or decided.get("day") != day.isoformat():
            raise PolicyError("The decided grants belong to another policy or day; decide again.")
        policy = cls(catalog, compiled, build_enforcer(compiled), day, {})
        by_duty: dict[str, Any] | None = decided.get("duties")  # absent: an older publisher
        for agency in catalog.agencies:
            policy.grants[agency.code] = _from_json(agency, decided["agencies"][agency.code], day)
            for duty in agency.duties if by_duty is not None else ():
                found = by_duty[agency.code][duty]  # type: ignore[index]  # not None here
                policy.duty_grants[agency.code, duty] = _from_json(agency, found, day, duty)
        if by_duty is None:
            policy.decide_duties()
        return policy

    def grants_json(self) -> dict[str, Any]:
        """Every agency's grants (and duty views) as JSON, for `with_grants` elsewhere."""
        duties: dict[str, dict[str, Any]] = {}
        for (code, duty), grants in sorted(self.duty_grants.items()):
            duties.setdefault(code, {})[duty] = _to_json(grants)
        return {
            "version": self.version,
            "day": self.day.isoformat(),
            "agencies": {code: _to_json(g) for code, g in self.grants.items()},
            "duties": duties,
        }

    def decide_duties(self) -> None:
        """Decide every agency's grants under each of its duties (at load; see duty_grants)."""
        for agency in self.catalog.agencies:
            for duty in agency.duties:
                self.grants_for(agency.code, duty)

    def every_grants(self) -> list[Grants]:
        """Every agency's grants, without a duty and under each duty it holds."""
        self.decide_duties()
        return [
            *(self.grants_for(a.code) for a in self.catalog.agencies),
            *self.duty_grants.values(),
        ]

    @property
    def version(self) -> str:
        """The compiled files' content hash."""
        return self.compiled.version

    def grants_for(self, agency_code: str, duty: str | None = None) -> Grants:
        """The agency's grants, under `duty` alone when given (its duty view).

        Raises UnknownAgencyError for a code the catalogue lacks, DutyNotHeldError for a duty
        the agency does not hold.
        """
        grants = self.grants.get(agency_code)
        if grants is None:
            agency = self.catalog.agency(agency_code)  # raises UnknownAgencyError
            grants = _agency_grants(self.enforcer, agency, self.day)
            self.grants[agency_code] = grants  # only when loaded with precompute=False
        if duty is None:
            return grants
        bound = self.duty_grants.get((agency_code, duty))
        if bound is None:
            check_duty(self.catalog, agency_code, duty)  # raises DutyNotHeldError
            bound = self._duty_view_grants(grants, duty)
            self.duty_grants[agency_code, duty] = bound
        return bound

    def bound_grants(self, agency_code: str, duty: str | None) -> Grants:
        """The grants a request of `agency_code` naming `duty` (None: none) is answered with.

        Raises DutyRequiredError when the catalogue requires a duty and none is named, and
        DutyNotHeldError for a duty the agency does not hold (policies.duties.check_duty).
        """
        return self.grants_for(agency_code, check_duty(self.catalog, agency_code, duty))

    def duty_enforcer(self, agency_code: str, duty: str) -> casbin.Enforcer:
        """An enforcer for the agency's duty view (for explanations, not the request path)."""
        view = duty_view(self.compiled, agency_code, duty)
        return self.enforcer if view.policy == self.compiled.policy else build_enforcer(view)

    def _duty_view_grants(self, grants: Grants, duty: str) -> Grants:
        code = grants.agency.code
        enforcer = self.duty_enforcer(code, duty)
        if enforcer is self.enforcer:  # the agency holds this duty alone: nothing narrows
            return _replace_duty(grants, duty)
        return _agency_grants(enforcer, grants.agency, self.day, within=grants, duty=duty)

    def decide(self, agency_code: str, obj: str, action: str) -> bool:
        """Ask the enforcer directly (for explanations and checks, not the request path)."""
        return bool(self.enforcer.enforce(agency_code, obj, action, self.day.isoformat()))


def _agency_grants(
    enforcer: casbin.Enforcer,
    agency: Agency,
    day: date,
    *,
    within: Grants | None = None,
    duty: str | None = None,
) -> Grants:
    """Ask `enforcer` what `agency` may do; with `within`, only about what those grants allow,
    keeping the narrower row scope (a duty view never widens, policies.duties)."""
    today = day.isoformat()
    allowed: dict[str, set[str]] = {method: set() for method in METHODS}
    for source in SOURCES.values():
        for spec in source.fields:
            ref = f"{source.entity}.{spec.name}"
            for method in METHODS:
                if within is not None and not within.can(method, ref):
                    continue
                if enforcer.enforce(agency.code, ref, method, today):
                    allowed[method].add(ref)
    scopes: dict[str, RowScope] = {}
    for source in SOURCES.values():
        if enforcer.enforce(agency.code, source.entity, "scope:city", today):
            scope = RowScope("city")
        elif enforcer.enforce(agency.code, source.entity, "scope:division", today):
            scope = RowScope("division", agency.division)
        else:
            scope = RowScope("none")
        scopes[source.entity] = (
            scope if within is None else within.scopes[source.entity].narrower(scope)
        )
    administrator = bool(enforcer.enforce(agency.code, "platform", "administer", today))
    return Grants(
        agency=agency,
        readable=frozenset(allowed["query"]),
        verifiable=frozenset(allowed["verify"]),
        scopes=MappingProxyType(scopes),
        administrator=administrator and (within is None or within.administrator),
        day=day,
        duty=duty,
    )


def _replace_duty(grants: Grants, duty: str) -> Grants:
    return Grants(
        agency=grants.agency,
        readable=grants.readable,
        verifiable=grants.verifiable,
        scopes=grants.scopes,
        administrator=grants.administrator,
        day=grants.day,
        duty=duty,
    )


def _to_json(grants: Grants) -> dict[str, Any]:
    return {
        "readable": sorted(grants.readable),
        "verifiable": sorted(grants.verifiable),
        "scopes": {e: [s.kind, s.division] for e, s in grants.scopes.items()},
        "administrator": grants.administrator,
    }


def _from_json(agency: Agency, found: dict[str, Any], day: date, duty: str | None = None) -> Grants:
    return Grants(
        agency=agency,
        readable=frozenset(found["readable"]),
        verifiable=frozenset(found["verifiable"]),
        scopes=MappingProxyType(
            {e: RowScope(kind, division) for e, (kind, division) in found["scopes"].items()}
        ),
        administrator=bool(found["administrator"]),
        day=day,
        duty=duty,
    )
