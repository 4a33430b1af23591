"""JSON depth measured on raw bytes, before any parser."""

from __future__ import annotations

import json

import pytest

import cutover
from cutover import json_depth, parse_json


@pytest.mark.parametrize(
    ("raw", "depth"),
    [
        (b"1", 0),
        (b'"[[[{{{"', 0),
        (b"{}", 1),
        (b'{"a": [1, {"b": []}]}', 4),
        (b"[[], [[]], []]", 3),
        (b'["\\"[[[", [1]]', 2),  # an escaped quote does not end the string
        (b'{"k\\\\": [[]]}', 3),  # nor does an escaped backslash before it
        ('{"ü": ["[é]"]}'.encode(), 2),
    ],
)
def test_depth_counts_brackets_outside_strings(raw: bytes, depth: int) -> None:
    assert json_depth(raw) == depth


def test_depth_stops_once_past_the_limit() -> None:
    assert json_depth(b"[" * 1000 + b"]" * 1000, stop_above=64) == 65


def test_a_thousand_levels_in_2_kb_are_refused_without_recursion() -> None:
    raw = b"[" * 1000 + b"]" * 1000
    with pytest.raises(cutover.JsonTooDeep) as caught:
        parse_json(raw)
    assert (caught.value.max_depth, str(caught.value)) == (
        64,
        "JSON body nested deeper than 64 levels",
    )


def test_a_body_at_the_limit_parses() -> None:
    raw = ("[" * 64 + "]" * 64).encode()
    assert json_depth(raw) == 64
    assert parse_json(raw, max_depth=64) == json.loads(raw)


def test_malformed_json_still_fails_as_json() -> None:
    with pytest.raises(ValueError, match="Expecting"):
        parse_json(b'{"a": ')
