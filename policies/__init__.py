"""The sharing catalogue, its Casbin compilation, author rules, grants and explanations.

`policies` never imports strawberry or starlette (see ../shared/design/architecture.md).
"""

from policies.catalog import SHIPPED_CATALOG, Agency, Catalog, Dataset, FieldShare, load_catalog
from policies.compiler import CompiledPolicy, compile_policy, write_policy
from policies.diff import PolicyDiff, diff_policies
from policies.errors import (
    CatalogError,
    DutyError,
    DutyNotHeldError,
    DutyRequiredError,
    PolicyError,
    Problem,
    RulesError,
    UnknownAgencyError,
    UnknownFieldError,
)
from policies.explain import Explanation, explain
from policies.grants import Grants, Policy, RowScope
from policies.rules import AuthorRule, default_rules_path, load_rules

__all__ = [
    "SHIPPED_CATALOG",
    "Agency",
    "AuthorRule",
    "Catalog",
    "CatalogError",
    "CompiledPolicy",
    "Dataset",
    "DutyError",
    "DutyNotHeldError",
    "DutyRequiredError",
    "Explanation",
    "FieldShare",
    "Grants",
    "Policy",
    "PolicyDiff",
    "PolicyError",
    "Problem",
    "RowScope",
    "RulesError",
    "UnknownAgencyError",
    "UnknownFieldError",
    "compile_policy",
    "default_rules_path",
    "diff_policies",
    "explain",
    "load_catalog",
    "load_rules",
    "write_policy",
]
