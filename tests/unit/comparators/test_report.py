from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import timedelta

from comparators import plots
from comparators.diff import Scope, compare
from comparators.report import (
    SCHEMA_VERSION,
    RunInfo,
    evidence,
    figure,
    html,
    junit,
    markdown,
    options_summary,
    plan_hash,
    shares,
)
from comparators.result import ComparisonResult
from comparators.rules import CompareOptions
from comparators.verdict import VerdictPolicy, decide
from tests.unit.comparators.factories import LATER, T0, obs, pair


def _doc(**candidate: object) -> dict[str, object]:
    c1, d1 = pair(1, total="9.99")
    c2, d2 = pair(2, **candidate)
    opts = CompareOptions(key="order_id")
    result = compare([c1, c2, obs(3)], [d1, d2], opts, Scope(now=LATER))
    policy = VerdictPolicy(min_settled_keys=1)
    info = RunInfo("run-1", "order", "sync", "event", plan_hash=plan_hash(b"plan"), generated_at=T0)
    return evidence(
        result, decide(result, policy), policy=policy, info=info, rules=options_summary(opts)
    )


def test_evidence_document_has_versioned_fields() -> None:
    doc = _doc()
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["plan_hash"] == plan_hash(b"plan") and str(doc["plan_hash"]).startswith("sha256:")
    assert doc["counts"]["divergent"] == 1 and doc["counts"]["missing"] == 1  # type: ignore[index]
    assert doc["verdict"]["status"] == "fail"  # type: ignore[index]
    assert doc["differing_paths"] == {"payment.amount": 1, "total": 1}
    json.dumps(doc)


def test_evidence_redacts_secrets_in_samples() -> None:
    doc = _doc(email="bob@example.com", correlation_id="token=abc123secret")
    text = json.dumps(doc)
    assert "abc123secret" not in text


def test_html_escapes_every_value() -> None:
    doc = _doc(email="<script>alert(1)</script>")
    page = html(doc)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page
    assert page.count("<svg") == 2 and "http://" not in page.replace(
        "http://www.w3.org/2000/svg", ""
    )


def test_markdown_names_keys_and_paths() -> None:
    text = markdown(_doc())
    assert "**FAIL**" in text
    assert "| ord-000001 | divergent | payment.amount, total |" in text


def test_junit_has_failures_for_failed_checks() -> None:
    root = ET.fromstring(junit(_doc()))
    assert root.get("failures") == "3"
    failed = {c.get("name") for c in root.iter("testcase") if c.find("failure") is not None}
    assert failed == {"verdict", "missing_keys", "divergent_keys"}


def test_report_time_is_the_run_time() -> None:
    assert _doc()["generated_at"] == (T0 + timedelta()).isoformat()


def test_the_reports_say_which_keys_were_judged() -> None:
    everything = _doc()
    assert everything["window_seconds"] is None
    assert "every key on record" in markdown(everything) and "every key on record" in html(
        everything
    )
    windowed = {**everything, "window_seconds": 300.0}
    assert "keys of the last 300 s" in markdown(windowed)
    assert "keys of the last 300 s" in html(windowed)


def test_figures_are_rounded_for_reading() -> None:
    assert figure(0.9837804629315244) == "0.9838"
    assert figure(12345) == "12,345" and figure(None) == "n/a" and figure(1234.5678) == "1,234.57"
    page = html(_doc())
    assert "0.333333" not in page and "0.3333" in page


def test_the_report_shows_the_late_and_left_out_shares_beside_the_match_rate() -> None:
    assert shares({"match": 106, "late": 127, "pending": 0, "out_of_scope": 17}) == [
        ("late", 127, 250, 127 / 250),
        ("out_of_scope", 17, 250, 17 / 250),
    ]
    page = html(_doc())
    assert "<h2>Beside the match rate</h2>" in page and "missing</td>" in page


def test_one_interval_of_match_rate_is_a_figure_not_a_dot() -> None:
    one = ComparisonResult(counts=(("match", 9), ("divergent", 1)), timeline=((600, 10, 9),))
    text = str(plots.match_rate_line(one))
    assert "<svg" not in text and "Match rate 0.9000 over 10 settled keys" in text


def test_several_intervals_of_match_rate_draw_a_line() -> None:
    many = ComparisonResult(counts=(("match", 19),), timeline=((600, 10, 9), (660, 10, 10)))
    text = str(plots.match_rate_line(many))
    assert "<polyline" in text and text.count("<circle") == 2


def test_rules_and_thresholds_are_folded_not_dumped() -> None:
    page = html(_doc())
    assert "<details><summary>rules</summary>" in page
    assert "<details><summary>thresholds</summary>" in page


def test_a_time_series_breaks_its_line_where_nothing_was_measured() -> None:
    line = plots.Series("lag", "#000", ((0, 1.0), (5, 2.0), (10, None), (15, 3.0), (20, 4.0)))
    svg = str(plots.time_series("t", [line], span=(0, 20), markers=[plots.Marker(8, "<kill>")]))
    assert svg.count("<polyline") == 2 and "&lt;kill&gt;" in svg and "<kill>" not in svg
    assert "stroke-dasharray" in svg
