from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from phases.evidence import (
    check_rows,
    fmt_value,
    margin,
    relative_link,
    sha256_file,
    wilson_lower_bound,
    write_bundle,
)
from phases.gates import Check, GateResult, Verdict


def result(detail: str, snapshots: dict[str, object] | None = None) -> GateResult:
    return GateResult(
        3,
        "dual_write",
        Verdict.FAIL,
        (
            Check("comparison_verdict", Verdict.FAIL, "fail", "pass", detail, "payment"),
            Check("consumer_lag", Verdict.PASS, 0, 10, "ok", "payment"),
        ),
        ("payment",),
        datetime(2026, 11, 26, 15, 0, tzinfo=UTC),
        snapshots or {},
    )


def test_bundle_has_json_html_junit_and_the_sha_of_the_json(tmp_path: Path) -> None:
    ref = write_bundle(tmp_path, result("3 divergent"), plan_digest="abc")
    assert sha256_file(Path(ref.path)) == ref.sha256
    doc = json.loads(Path(ref.path).read_text())
    assert doc["verdict"] == "fail" and doc["plan_digest"] == "abc"
    assert doc["reasons"] == ["payment: comparison_verdict: 3 divergent"]
    junit = Path(ref.junit_path).read_text()
    assert 'tests="2" failures="1"' in junit
    assert Path(ref.path).parent.name.startswith("20261126T150000")


def test_html_is_autoescaped(tmp_path: Path) -> None:
    ref = write_bundle(tmp_path, result("<script>alert(1)</script>"), plan_digest="abc")
    html = Path(ref.html_path).read_text()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_secrets_are_redacted_from_the_bundle(tmp_path: Path) -> None:
    snap = {"connector": {"database.password": "hunter2", "url": "postgresql://u:pw123@h/db"}}
    ref = write_bundle(tmp_path, result("x", snap), plan_digest="abc")
    for path in (ref.path, ref.html_path):
        body = Path(path).read_text()
        assert "hunter2" not in body and "pw123" not in body


def test_snapshots_holding_datetimes_and_decimals_render_as_in_the_json(tmp_path: Path) -> None:
    from decimal import Decimal

    when = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
    snap = {"mismatches": [{"key": "t-1", "produced_at": when, "amount": Decimal("1.50")}]}
    ref = write_bundle(tmp_path, result("1 divergent", snap), plan_digest="abc")
    html = Path(ref.html_path).read_text()
    assert "2026-12-06 10:00:00+00:00" in html and "1.50" in html


# -- the page: each check with measured, threshold, margin, Wilson bound ------------------------
def _rows_result() -> GateResult:
    comparison = {
        "order": {
            "verdict": "pass",
            "settled_keys": 233,
            "matched": 230,
            "match_rate": 0.9871244635193133,
            "counts": {"match": 103, "late": 127, "divergent": 3, "pending": 5},
            "report_paths": [],
        }
    }
    return GateResult(
        3,
        "dual_write",
        Verdict.PASS,
        (
            Check("comparison_match_rate", Verdict.PASS, 0.9871, 0.95, "230/233 matched", "order"),
            Check(
                "consumer_lag",
                Verdict.PASS,
                {"messages": 0, "ms": 120.0},
                {"messages": 500, "ms": 10000.0},
                "group g",
                "order",
            ),
            Check("slot_active", Verdict.PASS, True, True, "replication slot inactive or unknown"),
        ),
        ("order",),
        datetime(2026, 11, 26, 15, 0, tzinfo=UTC),
        {"comparison": comparison},
    )


def test_margin_is_measured_minus_threshold_in_the_checks_unit() -> None:
    assert margin(0.998, 0.995) == "+0.0030"
    assert margin(7, 0) == "+7" and margin(150, 500) == "\u2212350"
    assert margin({"messages": 0, "ms": 120.0}, {"messages": 500, "ms": 10000.0}) == (
        "messages \u2212500 · ms \u22129,880"
    )
    assert margin(True, True) == "" and margin("RUNNING", "RUNNING") == ""
    assert margin(None, 10000.0) == ""


def test_values_are_rounded_for_reading() -> None:
    assert fmt_value(0.9837804629315244) == "0.9838"
    assert fmt_value(12345) == "12,345" and fmt_value(None) == "n/a"
    assert fmt_value({"messages": 0, "ms": None}) == "messages 0 · ms n/a"


def test_the_wilson_lower_bound_comes_from_matched_and_settled_counts() -> None:
    low = wilson_lower_bound(230, 233)
    assert low is not None and round(low, 4) == 0.9628
    assert wilson_lower_bound(0, 0) is None
    row = check_rows([c.to_dict() for c in _rows_result().checks], _rows_result().snapshots)[0]
    assert row.wilson == "0.9628" and row.margin == "+0.0371"


def test_passing_rows_carry_no_failure_text(tmp_path: Path) -> None:
    ref = write_bundle(tmp_path, _rows_result(), plan_digest="abc")
    html = Path(ref.html_path).read_text()
    assert "replication slot inactive" not in html
    assert "3 of 3 checks passed" in html
    failing = write_bundle(tmp_path, result("3 divergent"), plan_digest="abc")
    assert "3 divergent" in Path(failing.html_path).read_text()


def test_the_page_shows_late_and_pending_shares_beside_the_match_rate(tmp_path: Path) -> None:
    html = Path(write_bundle(tmp_path, _rows_result(), plan_digest="abc").html_path).read_text()
    assert "late: 127 of 238 (53.4 %)" in html and "pending: 5 of 238 (2.1 %)" in html
    shown = html.split("<h2>Snapshots</h2>")[0]
    assert "0.9871244635193133" not in shown and "0.9871" in shown


def test_snapshots_are_folded_and_unknown_verdicts_still_shown(tmp_path: Path) -> None:
    odd = GateResult(
        3,
        "dual_write",
        Verdict.PASS,
        (Check("c", Verdict.PASS, 1, 1, "", None),),
        (),
        datetime(2026, 11, 26, 15, 0, tzinfo=UTC),
        {"lag": {"order": {"lag_messages": 3}}},
    )
    doc = {**odd.to_dict(), "plan_digest": "x"}
    doc["checks"][0]["verdict"] = "inconclusive"
    rows = check_rows(doc["checks"])
    assert rows[0].verdict == "inconclusive" and rows[0].detail == ""
    html = Path(write_bundle(tmp_path, odd, plan_digest="abc").html_path).read_text()
    assert "<details><summary>lag</summary>" in html


def test_links_are_relative_to_the_page(tmp_path: Path) -> None:
    page = tmp_path / "run" / "rehearsal.html"
    target = tmp_path / "run" / "reports" / "b1" / "evidence.html"
    assert relative_link(target, page.parent) == "reports/b1/evidence.html"
