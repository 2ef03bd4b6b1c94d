"""Natural persons base database, keyed by the resident ID number (Art. 11, 16)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, Index, MetaData, String, Table

from sources._columns import TABLE_OPTIONS, TIMESTAMP
from sources.types import FieldSpec, Reveals, SourceSpec

__all__ = ["PERSONS", "metadata", "persons"]

metadata = MetaData()

persons = Table(
    "persons",
    metadata,
    Column("id_number", String(18), primary_key=True),
    Column("name", String(40), nullable=False),
    Column("gender", String(6), nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("ethnicity", String(12), nullable=False),
    Column("division_code", String(6), nullable=False),
    Column("address", String(120), nullable=False),
    Column("marital_status", String(10), nullable=False),
    Column("education", String(20), nullable=False),
    Column("phone", String(11), nullable=False),
    Column("status", String(10), nullable=False),
    Column("religion", String(20), nullable=False),
    Column("classified_post", Boolean, nullable=False),
    Column("updated_at", TIMESTAMP, nullable=False),
    Index("ix_persons_division_code", "division_code", "id_number"),
    Index("ix_persons_name", "name"),
    Index("ix_persons_updated_at", "updated_at"),  # freshness: MAX(updated_at), Art. 17
    **TABLE_OPTIONS,
)

PERSONS = SourceSpec(
    name="persons",
    title="Natural persons",
    entity="Person",
    table=persons,
    key="idNumber",
    fields=(
        FieldSpec(
            "idNumber",
            ("id_number",),
            "Resident ID number (GB 11643).",
            # Characters 1-6 are where the number was first issued, not the household's
            # division today (divisionCode): a hint, not that field, so not declared.
            reveals=(
                Reveals("Person.birthDate", "characters 7-14 are the date of birth (GB 11643)"),
                Reveals(
                    "Person.gender", "character 17 is odd for a man, even for a woman (GB 11643)"
                ),
            ),
        ),
        FieldSpec("name", ("name",), "Name as registered."),
        FieldSpec("gender", ("gender",), "male or female."),
        FieldSpec("birthDate", ("birth_date",), "Date of birth.", "date"),
        FieldSpec("ethnicity", ("ethnicity",), "Ethnic group (GB 3304)."),
        FieldSpec("divisionCode", ("division_code",), "District of household registration."),
        FieldSpec("address", ("address",), "Registered residential address."),
        FieldSpec("maritalStatus", ("marital_status",), "single, married, divorced or widowed."),
        FieldSpec("education", ("education",), "Highest education level."),
        FieldSpec("phone", ("phone",), "Mobile phone number."),
        FieldSpec("status", ("status",), "living or deceased."),
        FieldSpec("religion", ("religion",), "Religious belief; sensitive personal data."),
        FieldSpec("classifiedPost", ("classified_post",), "Holds a classified post.", "boolean"),
        FieldSpec("updatedAt", ("updated_at",), "When the record last changed (UTC).", "datetime"),
    ),
)
