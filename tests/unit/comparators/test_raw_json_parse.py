"""RawJson.parse (msgspec's decoder, json.loads for what it refuses) gives exactly what
json.loads gives, for any JSON text."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from comparators.values import RawJson

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def same(a: Any, b: Any) -> bool:
    """Equal with types (1 is not 1.0 nor True), NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


@given(values)
def test_parse_equals_json_loads_for_any_value(value: Any) -> None:
    text = json.dumps(value)
    assert same(RawJson(text).parse(), json.loads(text))


def test_texts_msgspec_refuses_parse_as_json_loads_does() -> None:
    for text in ['"\\ud800"', "NaN", "[Infinity]", "1e400", '{"a": 1, "a": 2}', "-0", "1.50"]:
        assert same(RawJson(text).parse(), json.loads(text)), text
