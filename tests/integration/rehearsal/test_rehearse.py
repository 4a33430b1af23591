"""`cutover rehearse` end to end on the real stack: the default scenario passes every gate
with its faults; the negative one fails phase 3's gate and names the key and `total`."""

from __future__ import annotations

import json
from pathlib import Path

from rehearsal.report_view import headline
from rehearsal.run import RehearseOptions, rehearse
from rehearsal.scenario import load_scenario
from rehearsal.stack.endpoints import Endpoints
from rehearsal.stack.topology import Topology
from rehearsal.summary import diff_paths, write_report


def test_default_rehearsal_passes_every_gate_with_faults_survived(
    endpoints: Endpoints, topology: Topology, tmp_path: Path
) -> None:
    result = rehearse(topology, RehearseOptions(load_scenario("default"), seconds=8, rate=20))

    assert result.passed, (
        [(r.phase, r.status, r.reasons) for r in result.rows],
        [diff_paths(s) for s in result.failing_keys],  # the differing fields, not the rows
        [s.get("differences", s) for s in result.failing_keys[:3]],
    )
    assert [r.status for r in result.rows] == ["gate passed"] * 6
    faults = {f.kind for r in result.rows for f in r.faults}
    assert faults == {"kill_shadow_worker", "restart_connect", "downstream_errors"}
    dual = next(r for r in result.rows if r.phase == 3)
    assert dual.keys is not None and dual.keys > 100
    assert dual.match_rate == 1.0
    paths = write_report(result, tmp_path, "default")
    data = json.loads((tmp_path / "rehearsal.json").read_text())
    assert data["passed"] is True
    head = headline(data)  # green only when every check passed; amber names what did not
    assert head.state == "pass" or (head.state == "warn" and head.not_passing)
    assert head.text in paths[0].read_text()
    ticks, marks = data["timeline"]["ticks"], data["timeline"]["marks"]  # the sampled series
    assert sum(t["requests"] for t in ticks) == sum(r.orders_sent for r in result.rows)
    assert any(t["lag_messages"] is not None for t in ticks)
    assert any(t["e2e_p50_ms"] is not None for t in ticks)
    assert {m["label"] for m in marks} == faults


def test_negative_rehearsal_fails_phase_3_and_names_the_key_and_total(
    endpoints: Endpoints, topology: Topology, tmp_path: Path
) -> None:
    result = rehearse(topology, RehearseOptions(load_scenario("negative"), seconds=8, rate=20))

    assert not result.passed
    rows = {r.phase: r for r in result.rows}
    assert rows[3].verdict == "fail"
    assert rows[3].status == "gate failed, reverted"
    assert rows[4].status == "pending"
    wrong = [s for s in result.failing_keys if "total" in diff_paths(s)]
    assert wrong
    html = write_report(result, tmp_path, "negative")[0].read_text()
    assert str(wrong[0]["key"]) in html
    assert "total:" in html
