"""The rehearsal's table, JSON and HTML report from a result (no stack)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rehearsal.faults import FaultRecord
from rehearsal.run import PhaseRow, RehearsalResult
from rehearsal.summary import render_table, write_report

NOTE = "2 verify run(s) inconclusive (a downstream gave the dry run no answer)"


def result(*, passed: bool = True) -> RehearsalResult:
    rows = [
        PhaseRow(3, "dual_write", "gate passed", "pass", 160, 1.0, 0, 0, 160),
        PhaseRow(
            4, "async", "gate passed" if passed else "gate failed, reverted", "pass", 120, 1.0,
            faults=[FaultRecord("downstream_errors", 4, "payment: 20% HTTP 500s", 1.5)],
            notes=[NOTE],
        ),
    ]  # fmt: skip
    failing = [] if passed else [
        {"key": "o-1", "category": "divergent",
         "differences": [{"path": "total", "control": "1.00", "candidate": "<b>2.00</b>"}]},
    ]  # fmt: skip
    return RehearsalResult("default", "run1", rows, passed, 42.0, failing)


def test_the_table_shows_each_phase_its_faults_and_its_notes() -> None:
    out = io.StringIO()
    render_table(result(), out)
    text = out.getvalue()
    assert "PASSED" in text and "downstream_errors (survived)" in text
    assert f"phase 4: {NOTE}" in text


def test_the_report_keeps_notes_in_json_and_html_and_escapes_values(tmp_path: Path) -> None:
    html_path, json_path = write_report(result(passed=False), tmp_path, "a scenario")
    data = json.loads(json_path.read_text())
    assert data["phases"][1]["notes"] == [NOTE]
    html = html_path.read_text()
    assert "<h2>Notes</h2>" in html and NOTE in html
    assert "<b>2.00</b>" not in html and "&lt;b&gt;2.00&lt;/b&gt;" in html


def test_no_notes_no_notes_section(tmp_path: Path) -> None:
    plain = result()
    plain.rows[1].notes.clear()
    html_path, _ = write_report(plain, tmp_path, "a scenario")
    assert "<h2>Notes</h2>" not in html_path.read_text()
