"""The shipped catalogue's grant matrix, pinned: every agency's readable and verifiable fields,
row scopes and administrator flag on the test day.

Hardening, restructuring and new features must not change who may read what. A deliberate
change to the catalogue or the author rules updates the golden file in the same commit:
`GOVGATE_UPDATE_GOLDEN=1 pytest tests/policies/test_grants_matrix.py`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from policies.grants import Policy

GOLDEN = Path(__file__).parent / "golden" / "grants-matrix.json"


def _matrix(policy: Policy) -> dict[str, Any]:
    decided = policy.grants_json()
    return {"day": decided["day"], "agencies": decided["agencies"]}


def test_the_shipped_grant_matrix_is_unchanged(policy: Policy) -> None:
    matrix = _matrix(policy)
    if os.environ.get("GOVGATE_UPDATE_GOLDEN") == "1":
        text = json.dumps(matrix, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
        GOLDEN.write_text(text, "utf-8")
    expected = json.loads(GOLDEN.read_text("utf-8"))
    for code in sorted(set(expected["agencies"]) | set(matrix["agencies"])):
        assert matrix["agencies"].get(code) == expected["agencies"].get(code), code
    assert matrix == expected
