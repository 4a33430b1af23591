"""``cutover outbox init`` without a database: --sql, --json, and a missing URL."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
import yaml

from cutover.commands import OutboxCommandConfig, outbox_init
from cutover.errors import OutboxConfigError
from cutover_common.cli import run_cli
from phases.cli import cli
from tests.unit.phases.conftest import SAMPLE


@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    """The root command configures logging onto the captured stderr: restore it after."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture
def plan_path(tmp_path: Path) -> Path:
    data = yaml.safe_load(SAMPLE.read_text())
    data["outbox"] = {"table": "app.events", "id": "event_id", "payload": "body"}
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_sql_prints_the_ddl_and_needs_no_database(plan_path: Path) -> None:
    out = io.StringIO()
    code = outbox_init(OutboxCommandConfig(plan_path, stdout=out, environ={}), sql_only=True)
    assert code == 0
    script = out.getvalue()
    assert 'CREATE TABLE IF NOT EXISTS "app"."events" (' in script
    assert '"event_id"' in script and '"body"' in script
    assert script.splitlines()[1] == "BEGIN;"


def test_sql_as_json(plan_path: Path) -> None:
    out = io.StringIO()
    outbox_init(OutboxCommandConfig(plan_path, json=True, stdout=out, environ={}), sql_only=True)
    data = json.loads(out.getvalue())
    assert data["table"] == "app.events"
    assert data["sql"].startswith("-- cutover outbox table app.events")


def test_without_the_database_variable_init_says_which_and_exits_2(plan_path: Path) -> None:
    with pytest.raises(OutboxConfigError, match="LEGACY_DATABASE_URL is not set") as info:
        outbox_init(OutboxCommandConfig(plan_path, stdout=io.StringIO(), environ={}))
    assert info.value.exit_code == 2


def test_the_cli_prints_the_ddl(plan_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run_cli(cli, ["outbox", "init", "--plan", str(plan_path), "--sql"])
    assert code == 0
    assert '"app"."events"' in capsys.readouterr().out


def test_the_cli_without_a_plan_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_cli(cli, ["outbox", "init", "--plan", str(tmp_path / "none.yaml"), "--sql"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "none.yaml" in err
