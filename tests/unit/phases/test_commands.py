from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cutover.state.commands import init
from phases import commands
from phases.cli import cli
from phases.commands import CommandConfig
from phases.fakes import fake_ports
from phases.plan import Plan
from phases.ports import Ports
from phases.store import SqlModeStore
from tests.unit.phases.conftest import SAMPLE


class Factory:
    """Builds fake ports around the real SQL mode store, remembering the last ones."""

    ports: Ports | None = None

    def __call__(self, plan: Plan, modes: SqlModeStore) -> Ports:
        if self.ports is None:
            self.ports = fake_ports(modes)  # type: ignore[arg-type]
        return self.ports


@pytest.fixture
def factory() -> Factory:
    return Factory()


@pytest.fixture
def config(tmp_path: Path, factory: Factory) -> CommandConfig:
    config = CommandConfig(
        plan_path=SAMPLE,
        reports_dir=tmp_path / "reports",
        actor="ci@test",
        stdout=io.StringIO(),
        ports_factory=factory,
        environ={"LEGACY_DATABASE_URL": f"sqlite:///{tmp_path / 'legacy.db'}"},
    )
    assert init(config) == 0  # `cutover init`: nothing else creates the state tables
    config.stdout = io.StringIO()
    return config


def out(config: CommandConfig) -> str:
    value = config.stdout.getvalue()  # type: ignore[attr-defined]
    config.stdout = io.StringIO()
    return value


def as_json(config: CommandConfig) -> Any:
    return json.loads(out(config))


def test_status_of_a_fresh_store_is_phase_0_all_sync(config: CommandConfig) -> None:
    config.json = True
    assert commands.status(config) == 0
    doc = as_json(config)
    assert doc["phase"] == 0 and doc["phase_name"] == "not-started"
    assert set(doc["modes"].values()) == {"sync"} and doc["interrupted"] is None


def test_advance_status_history_round_trip(config: CommandConfig) -> None:
    assert commands.advance(config, to=3) == 0
    assert "advance 0 -> 3: done" in out(config)
    config.json = True
    commands.status(config)
    doc = as_json(config)
    assert doc["phase"] == 3 and set(doc["modes"].values()) == {"dual"}
    commands.history(config, limit=10)
    rows = as_json(config)
    assert rows[0]["action"] == "advance" and rows[0]["to"] == 3
    assert rows[0]["evidence_sha256"]


def test_dry_run_prints_the_moves_and_changes_nothing(config: CommandConfig) -> None:
    config.json = True
    assert commands.advance(config, to=2, dry_run=True) == 0
    doc = as_json(config)
    assert doc["status"] == "dry-run"
    assert [m["revision"] for m in doc["plan"]["moves"]] == [1, 2]
    commands.status(config)
    assert as_json(config)["phase"] == 0


def test_gate_check_exit_codes(config: CommandConfig, factory: Factory) -> None:
    commands.advance(config, to=3)
    assert factory.ports is not None
    factory.ports.comparison.keys = 3  # type: ignore[attr-defined]
    assert commands.gate_check(config) == 5
    factory.ports.comparison.keys = 5000  # type: ignore[attr-defined]
    assert commands.gate_check(config) == 0
    factory.ports.lag.per_context["order"] = factory.ports.lag.lag("order").__class__(  # type: ignore[attr-defined]
        "g", 1, 1.0, 9, members=1
    )
    assert commands.gate_check(config) == 4
    text = out(config)
    assert "paused: failed on infrastructure or inputs" in text
    assert "auto-reverted" not in text


def test_rollback_command(config: CommandConfig) -> None:
    commands.advance(config, to=2)
    out(config)
    config.json = True
    assert commands.rollback(config) == 0
    assert as_json(config)["phase"] == 1


def test_missing_database_env_is_a_clear_error_and_invalid_input(config: CommandConfig) -> None:
    from cutover_common.errors import EnvironmentVariableMissing

    config.environ = {}
    with pytest.raises(EnvironmentVariableMissing, match="LEGACY_DATABASE_URL is not set") as info:
        commands.status(config)
    assert info.value.exit_code == 2


def test_cli_wraps_the_functions_with_exit_codes(tmp_path: Path, factory: Factory) -> None:
    env = {
        "LEGACY_DATABASE_URL": f"sqlite:///{tmp_path / 'legacy.db'}",
        "CUTOVER_PLAN": str(SAMPLE),
    }
    runner = CliRunner(env=env)
    obj = {"ports_factory": factory}
    args = ["--reports-dir", str(tmp_path / "r")]
    assert runner.invoke(cli, ["init"]).exit_code == 0
    result = runner.invoke(cli, ["advance", "--to", "3", *args], obj=obj)
    assert result.exit_code == 0, result.output
    assert factory.ports is not None
    factory.ports.comparison.keys = 1  # type: ignore[attr-defined]
    result = runner.invoke(cli, ["gate", "check", "--json", *args], obj=obj)
    assert result.exit_code == 5
    assert json.loads(result.output)["verdict"] == "low-confidence"
    result = runner.invoke(cli, ["status", "--json"], obj=obj)
    assert json.loads(result.output)["phase"] == 3
    result = runner.invoke(cli, ["history"], obj=obj)
    assert result.exit_code == 0 and "gate-check" in result.output


def test_cli_lists_the_phase_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    for name in ("advance", "discover", "gate", "history", "plan", "rollback", "status"):
        assert name in result.output
