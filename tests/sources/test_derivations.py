"""The inventory's derivations are true: every declared one holds for every seeded record, and
a reference reveals what the identifier it holds embeds."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Callable
from contextlib import closing
from typing import TYPE_CHECKING

from sources.derivations import derivations, revealed_by
from sources.identifiers import CreditCode, IdNumber, LicenseNumber, ParcelCode
from sources.inventory import SOURCES

if TYPE_CHECKING:
    from pathlib import Path

Row = dict[str, object]
Check = Callable[[list[Row]], bool]


def rows(folder: Path, source: str) -> list[Row]:
    with closing(sqlite3.connect(folder / f"{source}.db")) as db:
        db.row_factory = sqlite3.Row
        table = SOURCES[source].table.name
        return [dict(row) for row in db.execute(f"SELECT * FROM {table}")]


def functional(pairs: list[tuple[object, object]]) -> bool:
    """Each first value always comes with the same second one."""
    seen: dict[object, set[object]] = defaultdict(set)
    for first, second in pairs:
        seen[first].add(second)
    return all(len(values) == 1 for values in seen.values())


def persons_ids(folder: Path) -> set[object]:
    return {row["id_number"] for row in rows(folder, "persons")}


def entity_codes(folder: Path) -> set[object]:
    return {row["credit_code"] for row in rows(folder, "entities")}


def holders_are(kind_column: str, id_column: str, kind: str, known: set[object]) -> Check:
    def check(table: list[Row]) -> bool:
        return all(r[id_column] in known for r in table if r[kind_column] == kind)

    return check


def checks(folder: Path) -> dict[tuple[str, str], tuple[str, Check]]:
    """(field, revealed) -> (source, check over its rows) for every direct declaration."""
    people, entities = persons_ids(folder), entity_codes(folder)
    return {
        ("Person.idNumber", "Person.birthDate"): ("persons", lambda t: all(
            IdNumber(str(r["id_number"])).birth_date.isoformat() == r["birth_date"] for r in t)),
        ("Person.idNumber", "Person.gender"): ("persons", lambda t: all(
            IdNumber(str(r["id_number"])).gender == r["gender"] for r in t)),
        ("LegalEntity.creditCode", "LegalEntity.kind"): ("entities", lambda t: functional(
            [(r["kind"], str(r["credit_code"])[:2]) for r in t])),
        ("LegalEntity.creditCode", "LegalEntity.divisionCode"): ("entities", lambda t: all(
            CreditCode(str(r["credit_code"])).division_code == r["division_code"] for r in t)),
        ("LegalEntity.creditCode", "LegalEntity.organisationCode"): ("entities", lambda t: all(
            str(r["credit_code"])[8:17] == r["organisation_code"]
            for r in t if r["organisation_code"] is not None)),
        ("LegalEntity.registrationNumber", "LegalEntity.divisionCode"): ("entities", lambda t: all(
            str(r["registration_number"])[:6] == r["division_code"]
            for r in t if r["registration_number"] is not None)),
        ("LegalEntity.legalRepresentative", "Person.idNumber"): ("entities", lambda t: all(
            r["legal_representative"] in people for r in t)),
        ("LandParcel.parcelCode", "LandParcel.divisionCode"): ("land", lambda t: all(
            ParcelCode(str(r["parcel_code"])).division_code == r["division_code"] for r in t)),
        ("LandParcel.parcelCode", "LandParcel.rightType"): ("land", lambda t: functional(
            [(r["right_type"], ParcelCode(str(r["parcel_code"])).feature_code) for r in t])),
        ("LandParcel.rightHolderId", "Person.idNumber"): (
            "land", holders_are("right_holder_kind", "right_holder_id", "person", people)),
        ("LandParcel.rightHolderId", "LegalEntity.creditCode"): (
            "land", holders_are("right_holder_kind", "right_holder_id", "entity", entities)),
        ("LandParcel.certificateNumber", "LandParcel.registeredOn"): ("land", lambda t: all(
            f"({str(r['registered_on'])[:4]})" in str(r["certificate_number"]) for r in t)),
        ("License.licenseNumber", "License.kind"): ("licenses", lambda t: functional(
            [(LicenseNumber(str(r["license_number"])).kind_code, r["kind"]) for r in t])
            and functional([(r["kind"], str(r["license_number"])[:2]) for r in t])),
        ("License.licenseNumber", "License.divisionCode"): ("licenses", lambda t: all(
            LicenseNumber(str(r["license_number"])).division_code == r["division_code"]
            for r in t)),
        ("License.licenseNumber", "License.issuedOn"): ("licenses", lambda t: all(
            LicenseNumber(str(r["license_number"])).year == int(str(r["issued_on"])[:4])
            for r in t)),
        ("License.holderId", "Person.idNumber"): (
            "licenses", holders_are("holder_kind", "holder_id", "person", people)),
        ("License.holderId", "LegalEntity.creditCode"): (
            "licenses", holders_are("holder_kind", "holder_id", "entity", entities)),
    }  # fmt: skip


def declared() -> list[tuple[str, str]]:
    return [
        (f"{source.entity}.{spec.name}", reveals.field)
        for source in SOURCES.values()
        for spec in source.fields
        for reveals in spec.reveals
    ]


def test_every_declared_derivation_holds_for_every_seeded_record(seeded: Path) -> None:
    known = checks(seeded)
    # A new declaration needs a check here, and a check a declaration.
    assert set(declared()) == set(known)
    tables = {name: rows(seeded, name) for name in SOURCES}
    for (field, revealed), (source, check) in known.items():
        assert tables[source], source
        assert check(tables[source]), f"{field} does not reveal {revealed} in the seeded data"


def test_a_reference_reveals_what_the_identifier_it_holds_embeds() -> None:
    found = {d.revealed: d for d in derivations("License.holderId")}
    birth = found["Person.birthDate"]
    assert (birth.via, birth.whole) == (("Person.idNumber",), True)
    assert "characters 7-14 are the date of birth" in birth.how
    assert {d.field for d in revealed_by("Person.gender")} == {
        "Person.idNumber", "LegalEntity.legalRepresentative", "LandParcel.rightHolderId",
        "License.holderId",
    }  # fmt: skip
