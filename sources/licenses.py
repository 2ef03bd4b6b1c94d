"""Licences base database (Art. 11), with each issuer's electronic seal (Art. 23).

`issuer_keys` is the seal registry: the public key of every issuing agency, so a licence's seal
can be verified by anyone who reads the database.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, Index, MetaData, String, Table

from sources._columns import TABLE_OPTIONS, TIMESTAMP
from sources.types import FieldSpec, Reveals, SourceSpec

__all__ = ["LICENSES", "issuer_keys", "licenses", "metadata"]

metadata = MetaData()

licenses = Table(
    "licenses",
    metadata,
    Column("license_number", String(23), primary_key=True),
    Column("kind", String(30), nullable=False),
    Column("holder_kind", String(6), nullable=False),
    Column("holder_id", String(18), nullable=False),
    Column("issuer_code", String(20), nullable=False),
    Column("issued_on", Date, nullable=False),
    Column("valid_until", Date, nullable=True),
    Column("status", String(10), nullable=False),
    Column("division_code", String(6), nullable=False),
    Column("seal_algorithm", String(10), nullable=False),
    Column("seal_key_id", String(40), nullable=False),
    Column("seal_signature", String(100), nullable=False),
    Column("updated_at", TIMESTAMP, nullable=False),
    Index("ix_licenses_holder_id", "holder_id"),
    Index("ix_licenses_division_code", "division_code", "license_number"),
    Index("ix_licenses_updated_at", "updated_at"),  # freshness: MAX(updated_at), Art. 17
    **TABLE_OPTIONS,
)

issuer_keys = Table(
    "issuer_keys",
    metadata,
    Column("key_id", String(40), primary_key=True),
    Column("issuer_code", String(20), nullable=False),
    Column("algorithm", String(10), nullable=False),
    Column("public_key", String(64), nullable=False),
    **TABLE_OPTIONS,
)

LICENSES = SourceSpec(
    name="licenses",
    title="Licences",
    entity="License",
    table=licenses,
    key="licenseNumber",
    fields=(
        FieldSpec(
            "licenseNumber",
            ("license_number",),
            "Electronic licence identifier.",
            reveals=(
                Reveals("License.kind", "characters 1-2 are the kind code (BL, FB, CP, DL, MC)"),
                Reveals("License.divisionCode", "characters 4-9 are the division code"),
                Reveals("License.issuedOn", "characters 11-14 are the year of issue", whole=False),
            ),
        ),
        FieldSpec("kind", ("kind",), "Licence kind, e.g. business licence, driving licence."),
        FieldSpec("holderKind", ("holder_kind",), "person or entity."),
        FieldSpec(
            "holderId",
            ("holder_id",),
            "ID number or credit code of the holder.",
            reveals=(
                Reveals("Person.idNumber", "it is the holder's resident ID number, for a person"),
                Reveals("LegalEntity.creditCode", "it is the holder's credit code, for an entity"),
            ),
        ),
        FieldSpec("issuerCode", ("issuer_code",), "Code of the issuing agency."),
        FieldSpec("issuedOn", ("issued_on",), "Date of issue.", "date"),
        FieldSpec(
            "validUntil", ("valid_until",), "Last day of validity; null if open-ended.", "date"
        ),
        FieldSpec("status", ("status",), "valid, expired or revoked."),
        FieldSpec("divisionCode", ("division_code",), "District the licence belongs to."),
        FieldSpec(
            "seal",
            ("seal_algorithm", "seal_key_id", "seal_signature"),
            "The issuer's electronic seal over the record (Art. 23).",
            "json",
        ),
        FieldSpec("updatedAt", ("updated_at",), "When the record last changed (UTC).", "datetime"),
    ),
)
