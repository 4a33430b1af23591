"""explain() skips top-level fields equal on both sides: the differences it reports are
exactly deepdiff's over the whole records."""

from __future__ import annotations

from typing import Any

import pytest
from deepdiff import DeepDiff

from comparators.explain import _KINDS, _differing, explain, format_path
from comparators.rules import CompareOptions

BASE: dict[str, Any] = {
    "order_id": "ord-1",
    "status": "paid",
    "total": "12.50",
    "count": 1,
    "flag": True,
    "payment": {"amount": 12.5, "method": "card", "ref": None},
    "notifications": [{"recipient": "a@x", "kind": "mail"}, {"recipient": "b@x", "kind": "sms"}],
}


def _whole(control: dict[str, Any], candidate: dict[str, Any]) -> list[tuple[str, str]]:
    tree = DeepDiff(control, candidate, view="tree", verbose_level=2)
    return sorted(
        (format_path(level.path(output_format="list")), report)
        for report, levels in tree.items()
        for level in levels
    )


CHANGES = [
    {"total": "12.51"},
    {"count": 1.0},  # int vs float: equal in Python, a type change for deepdiff
    {"flag": 1},  # bool vs int
    {"payment": {"amount": 12.5, "method": "card", "ref": ""}},
    {"payment": {"amount": 12.5, "method": "card"}},
    {"notifications": [{"recipient": "b@x", "kind": "sms"}]},
    {
        "notifications": [
            {"recipient": "a@x", "kind": "mail"},
            {"recipient": "b@x", "kind": "sms"},
            {},
        ]
    },
    {"status": None, "extra": [1, 2]},
    {},
]


@pytest.mark.parametrize("change", CHANGES)
def test_explain_reports_what_deepdiff_reports_over_whole_records(change: dict[str, Any]) -> None:
    candidate = {**BASE, **change}
    found = explain(BASE, candidate, CompareOptions(key="order_id"))
    expected = _whole(BASE, candidate)
    assert sorted((d.path, d.kind) for d in found) == sorted((p, _kind(r)) for p, r in expected)
    assert len(found) == len(expected)


def _kind(report: str) -> str:
    return _KINDS.get(report, report)


def test_removed_field_is_kept_on_its_side_only() -> None:
    candidate = {k: v for k, v in BASE.items() if k != "flag"}
    control_part, candidate_part = _differing(BASE, candidate)
    assert control_part == {"flag": True}
    assert candidate_part == {}
