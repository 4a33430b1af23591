"""The rehearsal report read at a glance: headline from the checks, labels, faults, links,
time series (pure view functions and the rendered page; no stack)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rehearsal.faults import FaultRecord
from rehearsal.report_view import (
    fault_rows,
    headline,
    lag_text,
    phase_charts,
    phase_label,
    traffic_rows,
)
from rehearsal.run import PhaseRow, RehearsalResult
from rehearsal.summary import render_html, write_report

TRAFFIC_FAIL = {
    "name": "valid requests get a 2xx",
    "verdict": "fail",
    "detail": "540 valid; 109 did not ({'500': 109})",
}


def gate(tmp: Path, verdict: str = "pass", *, lag_ms: float | None = 340.0) -> dict[str, Any]:
    page = tmp / "reports" / "20261206T0700-phase3-dual_write" / "evidence.html"
    return {
        "gate": "dual_write",
        "phase": 3,
        "verdict": verdict,
        "checks": [
            {
                "name": "comparison_match_rate",
                "verdict": verdict,
                "observed": 1.0,
                "threshold": 0.995,
                "detail": "233/233 matched",
                "context": "order",
            },
            {
                "name": "consumer_lag",
                "verdict": "pass",
                "observed": {"messages": 12, "ms": lag_ms},
                "threshold": {"messages": 500, "ms": 10000.0},
                "detail": "group shadow",
                "context": "order",
            },
        ],
        "snapshots": {
            "comparison": {
                "order": {
                    "settled_keys": 233,
                    "matched": 233,
                    "match_rate": 1.0,
                    "counts": {"match": 106, "late": 127},
                }
            }
        },
        "evidence_html": str(page),
    }


def data(tmp: Path, *, passed: bool = True, traffic: list[dict[str, Any]] | None = None) -> Any:
    rows = [
        PhaseRow(3, "dual-write", "gate passed", "pass", 233, 1.0, 12, 0, 400),
        PhaseRow(4, "async", "gate passed", "pass", 200, 1.0, 0, 0, 600),
        PhaseRow(40, "rollback drill", "gate passed", "pass", 90, 1.0, 0, 0, 200),
    ]
    rows[0].gates.append(gate(tmp))
    rows[1].traffic_checks.extend(traffic or [])
    fault = FaultRecord("downstream_errors", 4, "payment: 20% HTTP 500s", 1.5)
    rows[1].faults.extend([fault, fault])
    rows[0].faults.append(FaultRecord("restart_connect", 3, "connect restarted", 9.0))
    timeline = {
        "interval_s": 3.0,
        "compare_every": 2,
        "ticks": [
            {
                "at": 3.0 * i,
                "phase": 3,
                "requests": 60,
                "errors": i % 2,
                "lag_messages": 40 - i,
                "lag_ms": 900.0 - 50 * i,
                "dead_lettered": 0,
                "e2e_p50_ms": 80.0,
                "e2e_p99_ms": 400.0,
                "matched": 30 * i if i % 2 == 0 else None,
                "mismatched": 0 if i % 2 == 0 else None,
            }
            for i in range(1, 9)
        ],
        "marks": [{"at": 10.5, "phase": 3, "label": "restart_connect"}],
    }
    return RehearsalResult("default", "run1", rows, passed, 140.0, timeline=timeline)


def test_the_headline_is_green_only_when_every_check_passed(tmp_path: Path) -> None:
    head = headline(data(tmp_path).to_dict())
    assert (head.state, head.text) == ("pass", "every check of every gate passed")


def test_a_failed_traffic_check_turns_the_headline_amber_and_is_named(tmp_path: Path) -> None:
    head = headline(data(tmp_path, traffic=[TRAFFIC_FAIL]).to_dict())
    assert head.state == "warn" and head.text == "gates passed, but 1 check did not"
    assert head.not_passing == (
        "phase 4 · async: traffic: valid requests get a 2xx: fail — "
        "540 valid; 109 did not ({'500': 109})",
    )


def test_a_warned_gate_check_is_not_green(tmp_path: Path) -> None:
    result = data(tmp_path)
    result.rows[0].gates[0]["checks"][0]["verdict"] = "warn"
    assert headline(result.to_dict()).state == "warn"


def test_a_failed_rehearsal_says_where_it_stopped(tmp_path: Path) -> None:
    result = data(tmp_path, passed=False)
    result.rows[1].status = "gate failed, reverted"
    head = headline(result.to_dict())
    assert (head.state, head.text) == ("fail", "failed at phase 4 · async")


def test_a_step_inside_a_phase_carries_its_phases_number() -> None:
    assert phase_label(40, "rollback drill") == "4 · rollback drill"
    assert phase_label(3, "dual-write") == "3 · dual-write"


def test_the_same_fault_injected_twice_is_one_row_with_a_count() -> None:
    fault = {"kind": "downstream_errors", "detail": "payment: 20% HTTP 500s", "injected": 1}
    other = {"kind": "kill_shadow_worker", "detail": "kill -9", "injected": 1}
    assert fault_rows([fault, other, fault]) == [
        {"kind": "downstream_errors", "detail": "payment: 20% HTTP 500s", "times": 2},
        {"kind": "kill_shadow_worker", "detail": "kill -9", "times": 1},
    ]


def test_lag_is_shown_in_messages_and_milliseconds(tmp_path: Path) -> None:
    row = data(tmp_path).to_dict()["phases"][0]
    assert lag_text(row) == "12 msgs · 340 ms"
    row["gates"][0]["checks"][1]["observed"]["ms"] = None
    assert lag_text(row) == "12 msgs · n/a ms"


def test_each_phase_has_its_time_series_with_the_faults_marked(tmp_path: Path) -> None:
    charts = [str(c) for c in phase_charts(data(tmp_path).timeline, 3)]
    assert len(charts) == 4
    assert all("restart_connect" in c for c in charts)
    assert "e2e p99" in charts[0] and "DLQ" in charts[1] and "not matched" in charts[2]
    assert phase_charts(data(tmp_path).timeline, 5) == []


def test_the_page_reads_at_a_glance(tmp_path: Path) -> None:
    html_path, _ = write_report(data(tmp_path, traffic=[TRAFFIC_FAIL]), tmp_path, "default")
    page = html_path.read_text()
    assert 'class="headline warn"' in page and "every gate passed" not in page
    assert "<h2>Checks that did not pass</h2>" in page and "109 did not" in page
    assert "4 · rollback drill" in page and "40 rollback drill" not in page
    assert page.count("<code>downstream_errors</code>") == 1 and "\u00d72" in page
    assert 'href="reports/20261206T0700-phase3-dual_write/evidence.html"' in page
    assert str(tmp_path) not in page and '.json">' not in page.replace("rehearsal.json", "")
    assert "late 127/233 (54.5 %)" in page and "Gate reasons" not in page
    assert page.count("<svg") == 4 and "<pre>" not in page


def test_the_headline_is_green_on_a_clean_run(tmp_path: Path) -> None:
    page = render_html(data(tmp_path).to_dict(), tmp_path)
    assert 'class="headline pass"' in page and "every check of every gate passed" in page
    assert "<h2>Checks that did not pass</h2>" not in page
    assert "Wilson lower" in page and "+0.0050" in page


def test_a_gate_evaluated_twice_in_a_phase_is_numbered(tmp_path: Path) -> None:
    result = data(tmp_path)
    result.rows[0].gates.append(gate(tmp_path))
    page = render_html(result.to_dict(), tmp_path)
    assert "<code>dual_write</code>" in page and "<code>dual_write (2)</code>" in page


def test_traffic_checks_of_several_bursts_are_one_row_each() -> None:
    ok = {"name": "valid requests get a 2xx", "verdict": "pass", "detail": "180 valid; 0 did not"}
    sent = {"name": "every planned request sent", "verdict": "pass", "detail": "200/200"}
    assert traffic_rows([ok, sent, TRAFFIC_FAIL, sent]) == [
        {
            "name": "valid requests get a 2xx",
            "verdict": "fail",
            "bursts": 2,
            "failed": ["burst 2: 540 valid; 109 did not ({'500': 109})"],
        },
        {"name": "every planned request sent", "verdict": "pass", "bursts": 2, "failed": []},
    ]
    assert traffic_rows([TRAFFIC_FAIL])[0]["failed"] == ["540 valid; 109 did not ({'500': 109})"]


def test_a_chart_with_nothing_measured_is_left_out(tmp_path: Path) -> None:
    timeline = data(tmp_path).timeline
    for tick in timeline["ticks"]:
        tick["matched"] = tick["mismatched"] = None
    charts = [str(c) for c in phase_charts(timeline, 3)]
    assert len(charts) == 3 and not any("not matched" in c for c in charts)
