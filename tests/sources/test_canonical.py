"""The one canonical form (RFC 8785): the fast path writes the library's bytes."""

from __future__ import annotations

import random

import pytest
import rfc8785

from sources.canonical import CanonicalFormError, canonical_json, canonical_plain
from sources.seal import canonical_form


def _text(rng: random.Random) -> str:
    pools = [(0, 0x7F), (0x80, 0x7FF), (0x800, 0xD7FF), (0xE000, 0xFFFF), (0x10000, 0x10FFFF)]
    return "".join(chr(rng.randint(*rng.choice(pools))) for _ in range(rng.randint(0, 12)))


def _plain(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randrange(7 if depth < 3 else 4)
    if kind == 0:
        return _text(rng)
    if kind == 1:
        return rng.randint(-(2**53) + 1, 2**53 - 1)
    if kind == 2:
        return rng.choice([True, False, None])
    if kind == 3:
        return rng.randint(-1000, 1000)
    if kind in {4, 5}:
        return [_plain(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = ["".join(chr(rng.randint(32, 126)) for _ in range(rng.randint(0, 6))) for _ in range(4)]
    return {key: _plain(rng, depth + 1) for key in keys}


def test_the_fast_path_writes_the_rfc_8785_bytes_for_every_plain_value() -> None:
    rng = random.Random(8785)
    for _ in range(3000):
        value = _plain(rng)
        assert canonical_plain(value) == rfc8785.dumps(value) == canonical_json(value)  # type: ignore[arg-type]


def test_a_seal_signs_the_rfc_8785_form_of_the_sealed_columns() -> None:
    record = {
        "license_number": "L-1", "kind": "食品经营许可", "holder_kind": "entity",
        "holder_id": "91440101MA5CYX8A1Q", "issuer_code": "GZ-AMR", "issued_on": "2024-01-02",
        "valid_until": None, "status": "valid", "division_code": "440106",
    }  # fmt: skip
    assert canonical_form(record) == canonical_json(record)


@pytest.mark.parametrize("value", [float("nan"), 2**60, {1: "x"}, "\ud800"])
def test_a_value_json_cannot_carry_exactly_has_no_canonical_form(value: object) -> None:
    with pytest.raises(CanonicalFormError, match="cannot be written as canonical JSON"):
        canonical_json(value)


def test_the_fast_path_writes_what_orjson_refuses_as_before_and_refuses_the_same() -> None:
    big = {"n": 2**70, "m": [-(2**65)]}
    assert canonical_plain(big) == b'{"m":[-36893488147419103232],"n":1180591620717411303424}'
    with pytest.raises(UnicodeEncodeError):
        canonical_plain({"lone": "\ud800"})
    record = {"b": "控制\x00\x1f\x7f\u2028", "a": [1, None, True], "c": {"z": "", "y": -1}}
    assert canonical_plain(record) == rfc8785.dumps(record)  # type: ignore[arg-type]
