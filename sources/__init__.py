"""The base databases: tables, field inventory, identifiers, seals and synthetic data.

`sources` knows nothing of agencies, GraphQL or Casbin (see ../shared/design/architecture.md).
"""

from sources.derivations import Derivation, derivations, revealed_by
from sources.engines import SourceOptions, default_urls, make_engine, parse_source_urls
from sources.errors import SeedError, SourceConfigError, SourceError
from sources.identifiers import (
    CreditCode,
    DivisionCode,
    IdNumber,
    InvalidIdentifierError,
    LicenseNumber,
    OrganisationCode,
    ParcelCode,
    RegistrationNumber,
)
from sources.inventory import BY_ENTITY, SOURCES, field_names
from sources.types import FieldSpec, Reveals, SourceSpec

__all__ = [
    "BY_ENTITY",
    "SOURCES",
    "CreditCode",
    "Derivation",
    "DivisionCode",
    "FieldSpec",
    "IdNumber",
    "InvalidIdentifierError",
    "LicenseNumber",
    "OrganisationCode",
    "ParcelCode",
    "RegistrationNumber",
    "Reveals",
    "SeedError",
    "SourceConfigError",
    "SourceError",
    "SourceOptions",
    "SourceSpec",
    "default_urls",
    "derivations",
    "field_names",
    "make_engine",
    "parse_source_urls",
    "revealed_by",
]
