"""Per-agency grants: equal to the enforcer's decisions, and the catalogue's acceptance cases."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from policies.errors import UnknownAgencyError, UnknownFieldError
from policies.grants import RowScope, field_ref
from sources.inventory import BY_ENTITY, SOURCES, field_names
from tests.conftest import DAY

if TYPE_CHECKING:
    from policies.grants import Policy


def fields_of(entity: str) -> set[str]:
    return {f.name for f in BY_ENTITY[entity].fields}


def test_grants_equal_the_enforcers_decision_for_every_agency_field_and_method(
    policy: Policy,
) -> None:
    day = DAY.isoformat()
    for agency in policy.catalog.agencies:
        grants = policy.grants_for(agency.code)
        for ref in field_names():
            for method in ("query", "verify"):
                expected = bool(policy.enforcer.enforce(agency.code, ref, method, day))
                assert grants.can(method, ref) is expected, (agency.code, ref, method)
        for source in SOURCES.values():
            city = policy.enforcer.enforce(agency.code, source.entity, "scope:city", day)
            division = policy.enforcer.enforce(agency.code, source.entity, "scope:division", day)
            scope = grants.scopes[source.entity]
            assert scope.kind == ("city" if city else "division" if division else "none")
        assert grants.administrator is bool(
            policy.enforcer.enforce(agency.code, "platform", "administer", day)
        )


def test_gz_psb_reads_every_person_field_except_the_not_shareable_ones(policy: Policy) -> None:
    grants = policy.grants_for("GZ-PSB")
    assert set(grants.fields("Person")) == fields_of("Person") - {"religion", "classifiedPost"}
    assert grants.scopes["Person"] == RowScope("city")


def test_gz_amr_reads_all_entity_and_licence_fields_but_only_name_and_id_of_persons(
    policy: Policy,
) -> None:
    grants = policy.grants_for("GZ-AMR")
    assert set(grants.fields("LegalEntity")) == fields_of("LegalEntity")
    assert set(grants.fields("License")) == fields_of("License")
    assert set(grants.fields("Person")) == {"name", "idNumber"}


def test_gz_pnr_reads_every_land_field_city_wide(policy: Policy) -> None:
    grants = policy.grants_for("GZ-PNR")
    assert set(grants.fields("LandParcel")) == fields_of("LandParcel")
    assert grants.scopes["LandParcel"] == RowScope("city")
    assert grants.scopes["LandParcel"].admits("440113")


def test_th_ca_reads_marital_status_of_tianhe_residents_only(policy: Policy) -> None:
    grants = policy.grants_for("TH-CA")
    assert {"maritalStatus", "idNumber", "name", "gender", "birthDate"} <= set(
        grants.fields("Person")
    )
    assert grants.scopes["Person"] == RowScope("division", "440106")
    assert grants.scopes["Person"].admits("440106")
    assert not grants.scopes["Person"].admits("440113")


def test_py_tax_sees_entities_and_parcels_of_panyu_only(policy: Policy) -> None:
    grants = policy.grants_for("PY-TAX")
    assert grants.fields("LegalEntity")
    assert grants.fields("LandParcel")
    for entity in ("LegalEntity", "LandParcel"):
        assert grants.scopes[entity] == RowScope("division", "440113")
        assert not grants.scopes[entity].admits("440106")


def test_gz_water_may_only_verify_a_name_against_an_id_number(policy: Policy) -> None:
    grants = policy.grants_for("GZ-WATER")
    assert grants.readable == frozenset()
    assert grants.verifiable == {"Person.name", "Person.idNumber"}


def test_gz_data_is_the_platform_administrator_and_no_one_else_is(policy: Policy) -> None:
    admins = [a.code for a in policy.catalog.agencies if policy.grants_for(a.code).administrator]
    assert admins == ["GZ-DATA"]


def test_no_agency_is_granted_a_secret_or_not_shareable_field(policy: Policy) -> None:
    closed = {s.ref for d in policy.catalog.datasets for s in d.fields if s.sharing == "none"}
    assert closed == {"Person.religion", "Person.classifiedPost"}
    for grants in policy.grants.values():
        assert not (grants.readable | grants.verifiable) & closed


def test_agencies_with_equal_grants_share_a_signature(policy: Policy) -> None:
    signatures = {policy.grants_for(a.code).signature for a in policy.catalog.agencies}
    # YX-AMR and GZ-AMR hold the same duties: same fields, different rows.
    assert policy.grants_for("YX-AMR").signature == policy.grants_for("GZ-AMR").signature
    assert len(signatures) < len(policy.catalog.agencies)


def test_grants_refuse_a_method_that_is_not_query_or_verify(policy: Policy) -> None:
    with pytest.raises(ValueError, match="query or verify, not 'read'"):
        policy.grants_for("GZ-PSB").can("read", "Person.name")


def test_an_unknown_agency_is_refused_with_the_list_of_agencies(policy: Policy) -> None:
    with pytest.raises(UnknownAgencyError, match=r"'GZ-NOPE' is not an agency.*GZ-PSB"):
        policy.grants_for("GZ-NOPE")


@pytest.mark.parametrize(
    ("ref", "message"),
    [("Persn.name", "there is no type 'Persn'"), ("Person.nme", "did you mean 'name'")],
)
def test_an_unknown_field_is_refused_with_a_suggestion(ref: str, message: str) -> None:
    with pytest.raises(UnknownFieldError, match=message):
        field_ref(ref)
