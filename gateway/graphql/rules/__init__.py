"""Validation rules, one a file: graphql-core's, less those `not_shared` replaces.

    not_shared   every name outside the agency's schema: one FORBIDDEN_FIELD error per name

The bounds on size (depth, aliases, verifications, expanded fields, cost) are not rules: they are
measured before any rule runs (gateway.graphql.bounds), so rules only walk bounded documents. A
new rule is a module here with a `ValidationRule` subclass (or a factory of one, when its messages
name the agency), added to `rules_for`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from graphql import specified_rules

from gateway.graphql.rules.not_shared import REPLACED, not_shared_rule

if TYPE_CHECKING:
    from graphql.validation import ASTValidationRule

__all__ = ["rules_for"]


def rules_for(agency: str) -> list[type[ASTValidationRule]]:
    """The validation rules for a request by `agency`."""
    keep = [rule for rule in specified_rules if rule not in REPLACED]
    return [*keep, not_shared_rule(agency)]
