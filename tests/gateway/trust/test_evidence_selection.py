"""The datasets an answer drew on are worked out once per fields, record types and catalogue,
and are the ones the per-request selection gives (vouchers, Art. 23; freshness, Art. 17)."""

from __future__ import annotations

import dataclasses
import itertools
from typing import TYPE_CHECKING

from gateway.settings import Settings
from gateway.trust.evidence import GatewayEvidence, documentary_datasets
from gateway.trust.freshness import drawn_on

if TYPE_CHECKING:
    from pathlib import Path

    from policies.catalog import Catalog


def test_the_remembered_selection_is_the_per_request_one_for_every_dataset_and_type(
    catalog: Catalog, tmp_path: Path
) -> None:
    evidence = GatewayEvidence(Settings.demo(tmp_path), {})
    entities = sorted({d.entity for d in catalog.datasets})
    for dataset in catalog.datasets:
        fields = frozenset(share.ref for share in dataset.fields)
        for size in (1, 2):
            for returned in map(frozenset, itertools.combinations(entities, size)):
                drawn, documentary = evidence._selection(catalog, fields, returned)
                assert list(drawn) == drawn_on(catalog, fields, returned)
                assert documentary == documentary_datasets(catalog, fields, returned)
                again = evidence._selection(catalog, fields, returned)
                assert again[0] is drawn  # remembered, not worked out again
    assert any(evidence._selection(catalog, frozenset(s.ref for s in d.fields),
                                   frozenset({d.entity}))[1] for d in catalog.datasets)  # fmt: skip


def test_a_new_catalogue_is_never_answered_from_the_old_ones_selection(
    catalog: Catalog, tmp_path: Path
) -> None:
    evidence = GatewayEvidence(Settings.demo(tmp_path), {})
    documentary = next(d for d in catalog.datasets if d.documentary)
    fields = frozenset(share.ref for share in documentary.fields)
    entities = frozenset({documentary.entity})
    assert evidence._selection(catalog, fields, entities)[1] == [documentary.id]
    plain = dataclasses.replace(documentary, documentary=False)
    changed = dataclasses.replace(
        catalog, datasets=tuple(plain if d is documentary else d for d in catalog.datasets)
    )
    assert evidence._selection(changed, fields, entities)[1] == []
