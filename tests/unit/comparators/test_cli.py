from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from comparators.cli import compare, repair
from tests.support.plans import full_plan

PLAN = """
system: {database: {url_env: UNUSED_DB}}
contexts:
  order:
    events: [order.created]
    outcome:
      key: order_id
      sync_callable: tests.unit.comparators.sample_sources:control
      event_callable: tests.unit.comparators.sample_sources:%s
    compare: {ignore: [correlation_id], settle_seconds: 5, decimals: [total, payment.amount],
              unordered: [reservation.lines, notifications]}
    invariants:
      - legacy_app.invariants:payment_captured_once
      - legacy_app.invariants:payment_equals_total
gates:
  dual_write: {min_settled_keys: 10, min_match_rate: 0.9, warn_match_rate: 0.8}
"""
NOW = "2026-01-02T00:00:00+00:00"


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(full_plan(PLAN % "candidate"))
    return path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(compare, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout


def test_run_fails_with_exit_4_and_names_keys(plan: Path, tmp_path: Path) -> None:
    code, out = invoke(
        "run",
        "--plan",
        str(plan),
        "--context",
        "order",
        "--now",
        NOW,
        "--json",
        "--out",
        str(tmp_path / "ev"),
    )
    assert code == 4
    doc = json.loads(out)
    assert doc["verdict"]["status"] == "fail"
    assert doc["counts"]["missing"] == 1 and doc["counts"]["divergent"] == 1
    keys = {s["key"]: s for s in doc["result"]["samples"]}
    assert [d["path"] for d in keys["ord-000003"]["differences"]] == ["payment.amount", "total"]
    assert "ord-000007" in keys
    files = sorted(p.name for p in (tmp_path / "ev").iterdir())
    assert files == ["evidence.json", "junit.xml", "report.html", "summary.md"]


def test_run_passes_with_exit_0(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(full_plan(PLAN % "candidate_clean"))
    code, out = invoke("run", "--plan", str(path), "--context", "order", "--now", NOW)
    assert code == 0
    assert "PASS" in out


def test_low_confidence_exit_5(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(
        full_plan(
            (PLAN % "candidate_clean").replace("min_settled_keys: 10", "min_settled_keys: 1000")
        )
    )
    assert invoke("run", "--plan", str(path), "--context", "order", "--now", NOW)[0] == 5


def test_report_rerenders_saved_evidence(plan: Path, tmp_path: Path) -> None:
    invoke(
        "run",
        "--plan",
        str(plan),
        "--context",
        "order",
        "--now",
        NOW,
        "--out",
        str(tmp_path / "ev"),
    )
    code, _out = invoke(
        "report", str(tmp_path / "ev" / "evidence.json"), "--out", str(tmp_path / "again")
    )
    assert code == 4
    page = (tmp_path / "again" / "report.html").read_text()
    assert page.count("<svg") == 2 and "(one interval of 60 s: no line to draw)" in page


def test_partitions_merge_to_the_whole(plan: Path, tmp_path: Path) -> None:
    invoke(
        "run",
        "--plan",
        str(plan),
        "--context",
        "order",
        "--now",
        NOW,
        "--out",
        str(tmp_path / "all"),
    )
    for i in range(3):
        invoke(
            "run",
            "--plan",
            str(plan),
            "--context",
            "order",
            "--now",
            NOW,
            "--partition",
            f"{i}/3",
            "--out",
            str(tmp_path / f"p{i}"),
        )
    code, out = invoke(
        "merge", *(str(tmp_path / f"p{i}" / "evidence.json") for i in range(3)), "--json"
    )
    whole = json.loads((tmp_path / "all" / "evidence.json").read_text())
    merged = json.loads(out)
    assert code == 4
    assert merged["result"] == whole["result"] and merged["verdict"] == whole["verdict"]


def test_watch_persists_watermark(plan: Path, tmp_path: Path) -> None:
    code, out = invoke(
        "watch",
        "--plan",
        str(plan),
        "--context",
        "order",
        "--state-dir",
        str(tmp_path / "st"),
        "--iterations",
        "1",
        "--interval",
        "0",
    )
    assert code == 4
    assert "step 1:" in out
    state = json.loads((tmp_path / "st" / "order.watch.json").read_text())
    assert state["result"]["counts"]["missing"] == 1 and state["watermark"]


def test_calibrate_writes_noise_and_run_uses_it(plan: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(
        compare,
        [
            "calibrate",
            "--plan",
            str(plan),
            "--context",
            "order",
            "--second-callable",
            "tests.unit.comparators.sample_sources:candidate_clean",
            "--out",
            str(tmp_path / "noise.json"),
        ],
    )
    assert res.exit_code == 0, res.output
    noise = json.loads((tmp_path / "noise.json").read_text())["noise"]
    assert noise["settled"] == 50 and noise["disagreements"] == 2
    _code, out = invoke(
        "run",
        "--plan",
        str(plan),
        "--context",
        "order",
        "--now",
        NOW,
        "--noise",
        str(tmp_path / "noise.json"),
        "--json",
    )
    assert json.loads(out)["noise"]["rate"] == pytest.approx(0.04)


def test_repair_is_a_dry_run_by_default(plan: Path) -> None:
    result = CliRunner().invoke(
        repair,
        ["--plan", str(plan), "--context", "order", "--json", "--run-id", "r9"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0
    doc = json.loads(result.output)
    assert doc["applied"] is False and doc["written"] == 0
    assert [e["aggregateid"] for e in doc["events"]] == ["ord-000007"]
    assert doc["events"][0]["causation_id"] == "repair:r9"
    assert [d["key"] for d in doc["divergent"]] == ["ord-000003"]


def test_repair_apply_needs_yes(plan: Path) -> None:
    result = CliRunner().invoke(repair, ["--plan", str(plan), "--context", "order", "--apply"])
    assert result.exit_code == 2 and "--yes" in result.output


def test_run_judges_only_the_window_of_the_gate_or_of_the_option(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    text = PLAN % "candidate"  # 50 keys, 1 s apart from T0; keys 3 and 7 are off
    path.write_text(
        full_plan(
            text.replace("min_settled_keys: 10,", "min_settled_keys: 10, window_seconds: 52,")
        )
    )
    now = "2026-01-01T00:01:00+00:00"  # T0 + 60 s: the window holds keys 9..50
    args = ("run", "--plan", str(path), "--context", "order", "--now", now, "--json")
    code, out = invoke(*args)
    assert code == 0, out
    assert json.loads(out)["figures"]["settled"] == 42
    assert json.loads(out)["window_seconds"] == 52
    code, out = invoke(*args, "--window", "0")  # every key on record: the bad ones count
    assert code == 4 and json.loads(out)["counts"]["missing"] == 1
    assert json.loads(out)["window_seconds"] is None
    code, out = invoke(*args, "--window", "55")
    assert code == 4 and json.loads(out)["counts"]["missing"] == 1  # keys 6..50: 7 is missing
