"""Land and spatial base database with real-estate rights (Art. 11), keyed by parcel code."""

from __future__ import annotations

from sqlalchemy import Column, Date, Index, MetaData, String, Table

from sources._columns import LONG_TEXT, REAL, TABLE_OPTIONS, TIMESTAMP
from sources.types import FieldSpec, Reveals, SourceSpec

__all__ = ["LAND", "land_parcels", "metadata"]

metadata = MetaData()

land_parcels = Table(
    "land_parcels",
    metadata,
    Column("parcel_code", String(19), primary_key=True),
    Column("division_code", String(6), nullable=False),
    Column("land_use", String(30), nullable=False),
    Column("area", REAL, nullable=False),
    Column("geometry", LONG_TEXT, nullable=False),
    Column("right_holder_kind", String(6), nullable=False),
    Column("right_holder_id", String(18), nullable=False),
    Column("right_type", String(40), nullable=False),
    Column("certificate_number", String(40), nullable=False, unique=True),
    Column("registered_on", Date, nullable=False),
    Column("updated_at", TIMESTAMP, nullable=False),
    # The geometry's bounding box, for bounding-box searches in SQL. Derived from `geometry`,
    # so it is not a field of its own: reading it is reading the geometry.
    Column("min_lon", REAL, nullable=False),
    Column("min_lat", REAL, nullable=False),
    Column("max_lon", REAL, nullable=False),
    Column("max_lat", REAL, nullable=False),
    Index("ix_land_parcels_division_code", "division_code", "parcel_code"),
    Index("ix_land_parcels_bbox", "min_lon", "max_lon"),
    Index("ix_land_parcels_right_holder_id", "right_holder_id"),
    Index("ix_land_parcels_updated_at", "updated_at"),  # freshness: MAX(updated_at), Art. 17
    **TABLE_OPTIONS,
)

LAND = SourceSpec(
    name="land",
    title="Land and spatial data with real-estate rights",
    entity="LandParcel",
    table=land_parcels,
    key="parcelCode",
    fields=(
        FieldSpec(
            "parcelCode",
            ("parcel_code",),
            "Cadastral parcel code (19 characters).",
            reveals=(
                Reveals("LandParcel.divisionCode", "characters 1-6 are the division code"),
                Reveals(
                    "LandParcel.rightType",
                    "characters 13-14, the feature code (TD/T 1057), are the ownership (state, "
                    "collective, disputed) and the kind of land use right",
                    whole=False,
                ),
            ),
        ),
        FieldSpec("divisionCode", ("division_code",), "District the parcel lies in."),
        FieldSpec("landUse", ("land_use",), "Land use class (GB/T 21010)."),
        FieldSpec("area", ("area",), "Area in square metres.", "float"),
        FieldSpec("geometry", ("geometry",), "Boundary as a GeoJSON Polygon (WGS 84).", "json"),
        FieldSpec("rightHolderKind", ("right_holder_kind",), "person or entity."),
        FieldSpec(
            "rightHolderId",
            ("right_holder_id",),
            "ID number of a person or credit code of an entity holding the right.",
            reveals=(
                Reveals("Person.idNumber", "it is the holder's resident ID number, for a person"),
                Reveals("LegalEntity.creditCode", "it is the holder's credit code, for an entity"),
            ),
        ),
        FieldSpec("rightType", ("right_type",), "Kind of real-estate right."),
        FieldSpec(
            "certificateNumber",
            ("certificate_number",),
            "Real-estate rights certificate number.",
            reveals=(
                Reveals(
                    "LandParcel.registeredOn",
                    "the year in brackets, 粤(YYYY), is the year the right was registered",
                    whole=False,
                ),
            ),
        ),
        FieldSpec("registeredOn", ("registered_on",), "Date the right was registered.", "date"),
        FieldSpec("updatedAt", ("updated_at",), "When the record last changed (UTC).", "datetime"),
    ),
)
