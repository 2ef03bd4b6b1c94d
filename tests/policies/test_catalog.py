"""Loading and validating the sharing catalogue."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
import yaml

from policies.catalog import SHIPPED_CATALOG, Frequency, load_catalog, parse_catalog
from policies.errors import CatalogError
from sources.inventory import SOURCES
from sources.issuers import ISSUERS

if TYPE_CHECKING:
    from pathlib import Path

    from policies.catalog import Catalog


def test_the_shipped_catalogue_is_a_realistic_guangzhou_catalogue(catalog: Catalog) -> None:
    levels = {a.level for a in catalog.agencies}
    districts = {a.division for a in catalog.agencies if a.level == "district"}
    shares = [s for d in catalog.datasets for s in d.fields]
    assert len(catalog.agencies) >= 12
    assert levels == {"city", "district"}
    assert len(districts) >= 3
    assert len(catalog.duties) >= 10
    assert {d.source for d in catalog.datasets} == set(SOURCES)
    assert {s.sharing for s in shares} == {"unconditional", "conditional", "none"}
    assert any(s.methods == ("verify",) for s in shares)
    assert any(s.secret for s in shares)
    assert {a.kind for a in catalog.agencies} == {"administrative", "delegated", "utility"}
    kinds = {d.frequency.text.split()[0] for d in catalog.datasets}
    assert kinds == {"real", "within", "quarterly"}
    for code in ("GZ-PSB", "GZ-AMR", "GZ-PNR", "TH-CA", "PY-TAX", "GZ-WATER", "GZ-DATA"):
        catalog.agency(code)
    assert catalog.agency("TH-CA").division == "440106"
    assert catalog.agency("PY-TAX").division == "440113"
    assert catalog.agency("GZ-WATER").kind == "utility"
    assert catalog.administrator == "GZ-DATA"


def test_every_licence_issuer_in_the_data_is_an_agency_of_the_catalogue(catalog: Catalog) -> None:
    codes = {a.code for a in catalog.agencies}
    assert set(ISSUERS) <= codes


@pytest.mark.parametrize(
    ("text", "days"), [("real time", 1), ("within 3 days", 3), ("within 1 day", 1)]
)
def test_frequencies_give_the_age_the_data_may_reach(text: str, days: int) -> None:
    assert Frequency(text).max_age.days == days


def test_a_quarterly_dataset_may_be_a_quarter_and_ten_days_old() -> None:
    assert Frequency("quarterly").max_age.days == 102


BROKEN = """\
version: "1"
title: broken
administrator: GZ-DATA
regional_scope: {city: city, district: division}
unconditional_sharing: {kinds: [administrative]}
divisions:
  - {code: "440100", name: 广州市, level: city}
  - {code: "440106", name: 天河区, level: district}
duties:
  - {id: civil-affairs, name: 民政}
agencies:
  - {code: GZ-DATA, name: 数据局, level: city, division: "440100", kind: administrative,
     duties: [civil-afairs]}
  - {code: TH-CA, name: 天河民政, level: district, division: "440100", kind: administrative,
     duties: [civil-affairs]}
datasets:
  - id: persons-a
    name: A
    provider: GZ-DATA
    source: persons
    entity: Person
    frequency: within 3 days
    fields:
      name: {sharing: unconditional}
      maritalStatus: {sharing: conditional}
      classifiedPost: {sharing: conditional, duties: [civil-affairs], secret: true}
      shoeSize: {sharing: unconditional}
  - id: persons-b
    name: B
    provider: TH-CA
    source: persons
    entity: Person
    frequency: real time
    fields:
      name: {sharing: conditional, duties: [civil-affairs]}
  - id: bad-provider
    name: C
    provider: GZ-NOPE
    source: registry
    entity: Person
    frequency: real time
    fields:
      name: {sharing: unconditional}
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(CatalogError) as caught:
        parse_catalog(text, name="broken.yaml")
    return [str(p) for p in caught.value.problems]


def test_a_broken_catalogue_reports_every_problem_at_once_with_its_place() -> None:
    found = problems_of(BROKEN)
    expected = [
        r"broken.yaml:13: agencies\[0\]\.duties\[0\]: unknown duty 'civil-afairs'; "
        r"did you mean 'civil-affairs'\?",
        r"broken.yaml:14: agencies\[1\]\.level: a district-level agency cannot belong to "
        r"city-level division 440100",
        r"broken.yaml:25: datasets\[0\]\.fields\.maritalStatus\.duties: a conditional field must "
        r"name the duties.*\(Art\. 4",
        r"broken.yaml:26: datasets\[0\]\.fields\.classifiedPost\.sharing: a secret field can "
        r"never be shared \(Art\. 16",
        r"broken.yaml:27: datasets\[0\]\.fields\.shoeSize: unknown Person field 'shoeSize'",
        r"broken.yaml:35: datasets\[1\]\.fields\.name: Person\.name is provided by TH-CA here "
        r"and by GZ-DATA in dataset 'persons-a'.*\(Art\. 13\)",
        r"broken.yaml:38: datasets\[2\]\.provider: unknown agency 'GZ-NOPE'",
        r"broken.yaml:39: datasets\[2\]\.source: unknown source 'registry'",
        r"broken.yaml:43: datasets\[2\]\.fields\.name: Person\.name is provided by GZ-NOPE",
    ]
    assert len(found) == len(expected), "\n".join(found)
    for pattern, problem in zip(expected, found, strict=True):
        assert re.match(pattern, problem), f"{problem!r} does not match {pattern!r}"


def test_shape_errors_say_how_to_fix_them_and_come_with_the_meaning_errors() -> None:
    text = BROKEN.replace('code: "440106"', "code: 440106").replace("title: broken\n", "")
    text = text.replace("frequency: real time", "frequency: hourly", 1)
    found = problems_of(text)
    assert found[0] == "broken.yaml:1: 'title' is a required property; add it (see docs/catalog.md)"
    assert (
        "broken.yaml:7: divisions[1].code: 440106 must be text; write it in quotes: '440106'"
        in (found)
    )
    assert any(
        p.startswith("broken.yaml:32: datasets[1].frequency: 'hourly' is not valid here: write "
                     "'real time', 'within N days'")
        for p in found
    )  # fmt: skip
    # The meaning checks still run on everything the schema did not find broken.
    assert any("unknown duty 'civil-afairs'" in p for p in found)
    assert any("by TH-CA here and by GZ-DATA" in p for p in found)
    assert [int(p.split(":")[1]) for p in found] == sorted(int(p.split(":")[1]) for p in found)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("a: &x [1]\nb: *x\n", 1, "anchors and aliases"),
        ("a: &a [*a]\n", 1, "anchors and aliases"),
        ("title: x\ntitle: y\n", 2, "this key appears twice here"),
        ("1: x\n", 1, "the key 1 is not text; put it in quotes"),
        ('title: "GZ\\u2028g, GZ-WATER, role:administrator"\n', 1, "U+2028"),
        ('agencies: [{code: "GZ-WATER\\n"}]\n', 1, "U+000A"),
        ('title: "水\\x1cg, GZ-WATER, duty:public-security"\n', 1, "U+001C"),
        ("", None, "is empty"),
        ("- a\n- b\n", 1, "must be a mapping of keys"),
    ],
)
def test_yaml_that_could_hide_or_smuggle_content_is_refused(
    text: str, line: int | None, message: str
) -> None:
    with pytest.raises(CatalogError) as caught:
        parse_catalog(text, name="x.yaml")
    first = caught.value.problems[0]
    assert first.line == line
    assert message in first.message


def test_a_file_that_is_not_yaml_is_reported_with_its_line() -> None:
    found = problems_of("version: 1\ndatasets: [unclosed\n")
    assert len(found) == 1
    assert found[0].startswith("broken.yaml:3: is not valid YAML")


def test_a_missing_catalogue_says_so(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="no such file"):
        load_catalog(tmp_path / "absent.yaml")


def test_the_shipped_catalogue_round_trips_through_yaml(tmp_path: Path) -> None:
    # A policy author's tools may rewrite the file; the catalogue must survive a plain dump.
    document = yaml.safe_load(SHIPPED_CATALOG.read_text("utf-8"))
    copy = tmp_path / "copy.yaml"
    copy.write_text(yaml.safe_dump(document, allow_unicode=True), "utf-8")
    assert load_catalog(copy).agencies == load_catalog(SHIPPED_CATALOG).agencies
