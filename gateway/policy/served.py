"""The policy a gateway process serves, and the texts it is built from.

`PolicyTexts` are the inputs as text (the catalogue and the author rules, with the names their
problems are reported under): read from the deployment's files, or from the policy store when
another process published them (gateway.policy.sync). `Served` is one policy in force: the
grants and the per-agency schemas built from them, swapped whole on a change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.graphql.schemas import SchemaCache
from policies.catalog import parse_catalog, read_policy_file
from policies.errors import CatalogError, RulesError
from policies.grants import Policy
from policies.rules import parse_rules

if TYPE_CHECKING:
    from datetime import date

    from gateway.settings import Settings
    from policies.compiler import CompiledPolicy

__all__ = ["PolicyTexts", "Served"]


@dataclass(frozen=True, slots=True)
class PolicyTexts:
    """A catalogue and its author rules as text; the names are how problems refer to them."""

    catalog: str
    catalog_name: str
    rules: str | None = None
    rules_name: str | None = None

    @classmethod
    def read(cls, settings: Settings) -> PolicyTexts:
        """The deployment's files; raises PolicyError when one cannot be read."""
        rules = settings.rules
        return cls(
            catalog=read_policy_file(settings.catalog, CatalogError),
            catalog_name=str(settings.catalog),
            rules=read_policy_file(rules, RulesError) if rules else None,
            rules_name=str(rules) if rules else None,
        )

    def build(self, day: date) -> Policy:
        """Check, compile and decide the policy as of `day`; raises PolicyError with every
        problem when the texts are broken."""
        catalog = parse_catalog(self.catalog, name=self.catalog_name)
        rules = (
            parse_rules(self.rules, catalog, name=self.rules_name or "<rules>")
            if self.rules is not None
            else ()
        )
        return Policy.build(catalog, rules, day=day)


@dataclass(frozen=True, slots=True)
class Served:
    """One policy in force: the texts it came from, its grants, and the schemas built from them."""

    texts: PolicyTexts
    policy: Policy
    schemas: SchemaCache

    @classmethod
    def build(cls, texts: PolicyTexts, day: date) -> Served:
        """Compile `texts`, precompute grants and schemas as of `day` (about a second)."""
        return cls._serve(texts, texts.build(day))

    @classmethod
    def adopt(
        cls, texts: PolicyTexts, compiled: CompiledPolicy, decided: dict[str, Any], day: date
    ) -> Served:
        """A policy another process published, with the grants it decided (same day): no
        enforcer round per agency and field, so adopting takes milliseconds."""
        catalog = parse_catalog(texts.catalog, name=texts.catalog_name)
        return cls._serve(texts, Policy.with_grants(catalog, compiled, day, decided))

    def for_day(self, day: date) -> Served:
        """The same compiled policy, decided as of another day (temporary rules end)."""
        policy = self.policy
        return self._serve(self.texts, Policy.load(policy.catalog, policy.compiled, day=day))

    @classmethod
    def _serve(cls, texts: PolicyTexts, policy: Policy) -> Served:
        # Every agency's grants and duty views: a request naming a duty never waits on a schema.
        return cls(texts, policy, SchemaCache(policy.every_grants()))
