"""Legal entities base database, keyed by the unified social credit code (Art. 11, 16).

Organisations carry their organisation code; market entities registered without one carry their
15-digit business registration number instead (Art. 16).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, Index, MetaData, String, Table, Text

from sources._columns import TABLE_OPTIONS, TIMESTAMP
from sources.types import FieldSpec, Reveals, SourceSpec

__all__ = ["ENTITIES", "legal_entities", "metadata"]

metadata = MetaData()

legal_entities = Table(
    "legal_entities",
    metadata,
    Column("credit_code", String(18), primary_key=True),
    Column("organisation_code", String(9), nullable=True),
    Column("registration_number", String(15), nullable=True),
    Column("name", String(80), nullable=False),
    Column("kind", String(30), nullable=False),
    Column("legal_representative", String(18), nullable=False),
    Column("registered_capital", BigInteger, nullable=False),
    Column("established_on", Date, nullable=False),
    Column("division_code", String(6), nullable=False),
    Column("address", String(120), nullable=False),
    Column("status", String(12), nullable=False),
    Column("business_scope", Text, nullable=False),
    Column("updated_at", TIMESTAMP, nullable=False),
    Index("ix_legal_entities_division_code", "division_code", "credit_code"),
    Index("ix_legal_entities_legal_representative", "legal_representative"),
    Index("ix_legal_entities_name", "name"),
    Index("ix_legal_entities_updated_at", "updated_at"),  # freshness: MAX(updated_at), Art. 17
    **TABLE_OPTIONS,
)

ENTITIES = SourceSpec(
    name="entities",
    title="Legal entities",
    entity="LegalEntity",
    table=legal_entities,
    key="creditCode",
    fields=(
        FieldSpec(
            "creditCode",
            ("credit_code",),
            "Unified social credit code (GB 32100).",
            reveals=(
                Reveals(
                    "LegalEntity.kind",
                    "characters 1-2 are the registration authority and category (GB 32100), "
                    "e.g. 92 for an individual business",
                    whole=False,
                ),
                Reveals(
                    "LegalEntity.divisionCode",
                    "characters 3-8 are the division code of the registering authority (GB 32100)",
                ),
                Reveals(
                    "LegalEntity.organisationCode",
                    "characters 9-17 are the organisation code, where the entity has one "
                    "(GB 32100)",
                ),
            ),
        ),
        FieldSpec(
            "organisationCode", ("organisation_code",), "Organisation code (GB 11714), if any."
        ),
        FieldSpec(
            "registrationNumber",
            ("registration_number",),
            "15-digit business registration number, for market entities without an "
            "organisation code.",
            reveals=(
                Reveals(
                    "LegalEntity.divisionCode",
                    "characters 1-6 are the division code of the registering authority "
                    "(GS 15-2006)",
                ),
            ),
        ),
        FieldSpec("name", ("name",), "Registered name."),
        FieldSpec("kind", ("kind",), "company, individual business, public institution, ..."),
        FieldSpec(
            "legalRepresentative",
            ("legal_representative",),
            "Resident ID number of the legal representative.",
            reveals=(Reveals("Person.idNumber", "it is the representative's resident ID number"),),
        ),
        FieldSpec(
            "registeredCapital", ("registered_capital",), "Registered capital in yuan.", "integer"
        ),
        FieldSpec("establishedOn", ("established_on",), "Date of establishment.", "date"),
        FieldSpec("divisionCode", ("division_code",), "District of registration."),
        FieldSpec("address", ("address",), "Registered address."),
        FieldSpec("status", ("status",), "active, revoked or deregistered."),
        FieldSpec("businessScope", ("business_scope",), "Business scope as registered."),
        FieldSpec("updatedAt", ("updated_at",), "When the record last changed (UTC).", "datetime"),
    ),
)
