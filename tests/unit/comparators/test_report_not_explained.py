"""The evidence says how many differing keys were not explained field by field, and the
``explain_limit`` that left them so (JSON, Markdown, HTML, the printed summary)."""

from __future__ import annotations

import io
import json
from typing import Any

from comparators.commands import merge_evidence, print_summary
from comparators.diff import Scope, compare
from comparators.explain import NOT_EXPLAINED
from comparators.report import RunInfo, evidence, html, markdown, options_summary
from comparators.rules import CompareOptions
from comparators.verdict import VerdictPolicy, decide
from tests.unit.comparators.factories import LATER, T0, pair


def _doc(divergent: int, explain_limit: int) -> dict[str, Any]:
    pairs = [pair(i, correlation_id=f"other-{i}") for i in range(1, divergent + 1)]
    pairs += [pair(i) for i in range(divergent + 1, divergent + 4)]
    opts = CompareOptions(key="order_id", explain_limit=explain_limit)
    result = compare([c for c, _ in pairs], [d for _, d in pairs], opts, Scope(now=LATER))
    policy = VerdictPolicy(min_settled_keys=1)
    info = RunInfo("run-1", "order", "sync", "event", generated_at=T0)
    return evidence(
        result, decide(result, policy), policy=policy, info=info, rules=options_summary(opts)
    )


LINE = "3 differing keys not explained field by field (explain_limit 2)"


def test_evidence_counts_the_keys_not_explained_with_the_limit() -> None:
    doc = _doc(divergent=5, explain_limit=2)
    assert doc["differing_paths"] == {"correlation_id": 2, NOT_EXPLAINED: 3}
    assert doc["not_explained"] == {"keys": 3, "explain_limit": 2}
    assert doc["rules"]["explain_limit"] == 2
    assert json.loads(json.dumps(doc))["not_explained"]["keys"] == 3


def test_markdown_html_and_summary_say_how_many_keys_were_not_explained() -> None:
    doc = _doc(divergent=5, explain_limit=2)
    assert LINE in markdown(doc).splitlines()
    assert f"<p>{LINE}</p>" in html(doc)
    out = io.StringIO()
    print_summary(doc, out)
    assert LINE in out.getvalue()


def test_one_key_not_explained_is_said_in_the_singular() -> None:
    doc = _doc(divergent=3, explain_limit=2)
    expected = "1 differing key not explained field by field (explain_limit 2)"
    assert expected in markdown(doc).splitlines()


def test_nothing_is_said_when_every_differing_key_was_explained() -> None:
    doc = _doc(divergent=2, explain_limit=2)
    assert doc["not_explained"] == {"keys": 0, "explain_limit": 2}
    assert "not explained" not in markdown(doc)
    assert "not explained" not in html(doc)


def test_merged_partition_evidence_adds_up_the_keys_not_explained() -> None:
    merged = merge_evidence([_doc(divergent=5, explain_limit=2), _doc(4, explain_limit=2)])
    assert merged["not_explained"] == {"keys": 5, "explain_limit": 2}
