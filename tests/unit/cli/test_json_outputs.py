"""--json on the commands that lacked it: the result is JSON on stdout, nothing else there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import shadow.commands
from phases.cli import cli
from tests.support.plans import full_plan, no_kafka_position  # noqa: F401 (a fixture)
from tests.unit.cli.conftest import run
from tests.unit.comparators.test_cli import PLAN

pytestmark = pytest.mark.usefixtures("no_kafka_position")

NOW = "2026-01-02T00:00:00+00:00"


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(full_plan(PLAN % "candidate"))
    return path


def _compare(plan: Path, *args: str) -> list[str]:
    return ["compare", *args[:1], "--plan", str(plan), "--context", "order", *args[1:]]


def test_compare_watch_json_is_the_final_verdict_steps_on_stderr(
    plan: Path, tmp_path: Path
) -> None:
    args = ["--state-dir", str(tmp_path / "st"), "--iterations", "1", "--interval", "0"]
    ran = run(cli, _compare(plan, "watch", *args, "--json"))
    doc = json.loads(ran.out)
    assert (ran.code, doc["name"], doc["verdict"]["status"]) == (4, "order", "fail")
    assert doc["verdict"]["exit_code"] == 4
    assert "step 1:" in ran.err


def test_compare_calibrate_json(plan: Path, tmp_path: Path) -> None:
    second = "tests.unit.comparators.sample_sources:candidate_clean"
    out = tmp_path / "noise.json"
    ran = run(
        cli, _compare(plan, "calibrate", "--second-callable", second, "--out", str(out), "--json")
    )
    doc = json.loads(ran.out)
    assert ran.code == 0
    assert (doc["out"], doc["noise"]["settled"], doc["noise"]["disagreements"]) == (
        str(out),
        50,
        2,
    )


def test_compare_report_json_lists_the_files_and_keeps_the_verdict_code(
    plan: Path, tmp_path: Path
) -> None:
    run(cli, _compare(plan, "run", "--now", NOW, "--out", str(tmp_path / "ev")))
    ran = run(
        cli,
        ["compare", "report", str(tmp_path / "ev" / "evidence.json"), "--out", str(tmp_path / "again"), "--json"],
    )  # fmt: skip
    doc = json.loads(ran.out)
    assert ran.code == 4 and doc["verdict"]["status"] == "fail"
    assert sorted(Path(f).name for f in doc["files"]) == [
        "evidence.json",
        "junit.xml",
        "report.html",
        "summary.md",
    ]


def test_plan_schema_json_is_the_schema() -> None:
    ran = run(cli, ["plan", "schema", "--json"])
    assert ran.code == 0 and "contexts" in json.loads(ran.out)["properties"]


def test_stack_compose_check_json(tmp_path: Path) -> None:
    ran = run(cli, ["stack", "compose", "--check", "--json"])
    doc = json.loads(ran.out)
    assert (ran.code, doc["current"], doc["written"]) == (0, True, False)
    assert doc["path"].endswith("docker-compose.yml")


def test_stack_logs_json(tmp_path: Path) -> None:
    env = {"CUTOVER_STATE_DIR": str(tmp_path)}
    first = run(cli, ["stack", "logs", "kafka", "--json"], env=env)
    log = Path(json.loads(first.out)["path"])
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("one\ntwo\nthree\n")
    ran = run(cli, ["stack", "logs", "kafka", "-n", "2", "--json"], env=env)
    assert json.loads(ran.out) == {
        "component": "kafka",
        "path": str(log),
        "lines": ["two", "three"],
    }


def test_stack_down_json_with_nothing_running(tmp_path: Path) -> None:
    ran = run(cli, ["stack", "down", "--json"], env={"CUTOVER_STATE_DIR": str(tmp_path)})
    assert (ran.code, json.loads(ran.out)) == (0, {"stopped": [], "wiped": False})


def test_shadow_run_json_prints_a_summary_and_keeps_stdout_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict[str, Any] = {}

    def fake_run(config: Any, *, workers: int, out: Any, idle_stop: float | None) -> int:
        out.write("started shadow-flow-0 (pid 1) in group g\n")
        out.flush()
        seen.update(workers=workers, idle_stop=idle_stop, consumers=config.consumers)
        return 0

    monkeypatch.setattr(shadow.commands, "run", fake_run)
    args = ["shadow", "--bootstrap", "127.0.0.1:1", "--dsn", "postgresql://u@h/db", "run"]
    app = ["--app", "legacy_app.orderflow.app:app", "--consumer", "flow"]
    ran = run(cli, [*args, *app, "--workers", "2", "--idle-stop", "1", "--json"])
    doc = json.loads(ran.out)
    assert ran.code == 0 and "started shadow-flow-0" in ran.err
    assert (doc["app"], doc["consumers"], doc["workers"], doc["failed"]) == (
        "legacy_app.orderflow.app:app",
        ["flow"],
        2,
        0,
    )
    assert seen == {"workers": 2, "idle_stop": 1.0, "consumers": ("flow",)}
