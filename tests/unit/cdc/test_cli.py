"""``cutover connectors`` over the fake worker: output, exit codes, and no password anywhere."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from cdc.cli import connectors
from cdc.client import ConnectClient
from cdc.errors import EXIT_DRIFT, EXIT_INVALID_CONFIG, EXIT_NOT_FOUND, EXIT_UNHEALTHY
from cdc.fake import FakeConnectWorker
from cutover_common.cli import run_cli
from cutover_common.errors import CutoverError
from cutover_common.exit_codes import ExitCode
from tests.unit.cdc.test_fake_contract import fake_config

PASSWORD = "cli-pw-Zx81-secret"

DESIRED = """
connectors:
  shop-outbox:
    debezium_postgres:
      database: {hostname: 127.0.0.1, user: app, dbname: shop, password_env: CLI_TEST_PW}
      topic_prefix: shop
      slot_name: shop_slot
      publication_name: shop_pub
"""


@pytest.fixture
def worker() -> FakeConnectWorker:
    return FakeConnectWorker()


@dataclass
class Ran:
    exit_code: int
    stdout: str
    output: str


def run(worker: FakeConnectWorker, *args: str, logs: io.StringIO | None = None) -> Ran:
    """Invoke like the root group does: a toolkit error becomes its exit code and one line."""
    client = ConnectClient(worker, sleep=lambda _s: None)
    obj = {"client": client, "log_stream": logs or io.StringIO()}
    level = ["--log-level", "DEBUG"] if logs else []
    result = CliRunner(env={"CLI_TEST_PW": PASSWORD}).invoke(connectors, [*level, *args], obj=obj)
    exc = result.exception
    if isinstance(exc, CutoverError):
        return Ran(exc.exit_code, result.stdout, result.output + exc.one_line())
    if exc is not None and not isinstance(exc, SystemExit):
        raise exc
    return Ran(result.exit_code, result.stdout, result.output)


def run_top(
    worker: FakeConnectWorker, *args: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    """Through the root error boundary (as `cutover connectors ...` runs), stderr captured."""
    client = ConnectClient(worker, sleep=lambda _s: None)
    connectors.context_settings = {"obj": {"client": client, "log_stream": io.StringIO()}}
    try:
        code = run_cli(connectors, list(args))
    finally:
        connectors.context_settings = {}
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def desired_file(tmp_path: Path) -> Path:
    path = tmp_path / "connectors.yaml"
    path.write_text(DESIRED)
    return path


def test_list_json_shows_every_task(worker: FakeConnectWorker) -> None:
    ConnectClient(worker).create_connector("a", fake_config("a"))
    result = run(worker, "list", "--json")
    assert result.exit_code == 0
    [row] = json.loads(result.stdout)
    assert row["name"] == "a"
    assert [t["state"] for t in row["status"]["tasks"]] == ["RUNNING"]


def test_list_table_for_humans(worker: FakeConnectWorker) -> None:
    ConnectClient(worker).create_connector("a", fake_config("a"))
    result = run(worker, "list")
    assert "PostgresConnector" in result.stdout and "0:RUNNING" in result.stdout


def test_plugins(worker: FakeConnectWorker) -> None:
    result = run(worker, "plugins", "--json")
    assert "io.debezium.connector.postgresql.PostgresConnector" in result.stdout


def test_status_exit_code_reflects_failed_tasks() -> None:
    worker = FakeConnectWorker(task_failure=lambda cfg: "org.postgresql.util.PSQLException: boom")
    ConnectClient(worker).create_connector("a", fake_config("a"))
    result = run(worker, "status", "a", "--json")
    assert result.exit_code == EXIT_UNHEALTHY
    body = json.loads(result.stdout)
    assert body["health"]["reasons"][0] == "task failed: task 0 is FAILED: boom"
    human = run(worker, "status", "a")
    assert "UNHEALTHY: task failed: task 0 is FAILED: boom" in human.stdout
    assert "PSQLException" in human.stdout


def test_status_without_a_database_says_the_slot_is_unknown_never_healthy(
    worker: FakeConnectWorker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no ./cutover-plan.yaml
    ConnectClient(worker).create_connector("a", fake_config("a"))
    result = run(worker, "status", "a")
    assert result.exit_code == int(ExitCode.INCONCLUSIVE)
    assert "slot unknown: replication slot debezium not checked" in result.stdout
    assert "healthy" not in result.stdout.replace("UNHEALTHY", "")


def test_status_with_the_plan_checks_the_slot_in_the_plans_database(
    worker: FakeConnectWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = Path(__file__).parents[3] / "phases/examples/sample-plan.yaml"
    monkeypatch.setenv("LEGACY_DATABASE_URL", f"postgresql://u:{PASSWORD}@127.0.0.1:1/shop")
    ConnectClient(worker).create_connector("cutover-outbox", fake_config("cutover-outbox"))
    result = run(worker, "status", "cutover-outbox", "--plan", str(plan), "--json")
    assert result.exit_code == int(ExitCode.INCONCLUSIVE)
    slot, heartbeat = json.loads(result.stdout)["health"]["reasons"]
    assert slot.startswith("slot unknown: cannot read slot/heartbeat state")
    assert heartbeat.startswith("heartbeat unknown: cannot read")
    assert PASSWORD not in result.output


def test_unknown_connector_exits_3_with_the_workers_message(
    worker: FakeConnectWorker, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_top(worker, "status", "ghost", capsys=capsys)
    assert code == EXIT_NOT_FOUND
    assert "Connector ghost not found" in err


def test_diff_exits_10_on_drift_then_0(worker: FakeConnectWorker, tmp_path: Path) -> None:
    path = desired_file(tmp_path)
    first = run(worker, "diff", str(path))
    assert first.exit_code == EXIT_DRIFT
    assert "+ shop-outbox (create)" in first.stdout
    dry = run(worker, "apply", str(path), "--dry-run")
    assert dry.exit_code == EXIT_DRIFT and "dry run" in dry.stdout
    assert worker.connectors == {}
    applied = run(worker, "apply", str(path), "--json")
    assert applied.exit_code == 0
    assert json.loads(applied.stdout)["performed"] == ["create shop-outbox"]
    assert run(worker, "diff", str(path)).exit_code == 0


def test_validate_exits_4_with_field_errors(worker: FakeConnectWorker, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps(
            {
                "name": "bad",
                "config": {
                    "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
                    "database.password": PASSWORD,
                },
            }
        )
    )
    result = run(worker, "validate", str(path), "--json")
    assert result.exit_code == EXIT_INVALID_CONFIG
    assert "topic.prefix" in json.loads(result.stdout)["bad"]["errors"]
    assert PASSWORD not in result.output


def test_lifecycle_restart_and_offsets(worker: FakeConnectWorker) -> None:
    ConnectClient(worker).create_connector("a", fake_config("a"))
    worker.record_offset("a", {"server": "a"}, {"lsn": 42})
    assert run(worker, "pause", "a").exit_code == 0
    assert worker.connectors["a"].target == "PAUSED"
    assert run(worker, "resume", "a").exit_code == 0
    assert run(worker, "restart", "a", "--only-failed", "--json").exit_code == 0
    assert run(worker, "restart", "a", "--task", "0").exit_code == 0
    shown = run(worker, "offsets", "a", "--json")
    assert json.loads(shown.stdout)["offsets"] == [
        {"partition": {"server": "a"}, "offset": {"lsn": 42}}
    ]
    assert run(worker, "stop", "a").exit_code == 0
    reset = run(worker, "offsets", "a", "--reset", "--json")
    assert json.loads(reset.stdout)["offsets"] == []
    assert run(worker, "delete", "a").exit_code == 0
    assert worker.connectors == {}


def test_offsets_reset_on_a_running_connector_exits_4(
    worker: FakeConnectWorker, capsys: pytest.CaptureFixture[str]
) -> None:
    ConnectClient(worker).create_connector("a", fake_config("a"))
    code, err = run_top(worker, "offsets", "a", "--reset", capsys=capsys)
    assert code == EXIT_INVALID_CONFIG
    assert "STOPPED" in err


def test_no_password_in_any_output_log_or_error(
    worker: FakeConnectWorker,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    logs = io.StringIO()
    monkeypatch.setenv("CLI_TEST_PW", PASSWORD)
    path = desired_file(tmp_path)
    outputs = []
    for args in (
        ["apply", str(path), "--json"],
        ["list", "--json"],
        ["list"],
        ["status", "shop-outbox", "--json"],
        ["diff", str(path), "--json"],
        ["diff", str(path)],
        ["apply", str(path), "--dry-run"],
    ):
        outputs.append(run(worker, *args, logs=logs).output)
    assert worker.connectors["shop-outbox"].config["database.password"] == PASSWORD  # it was sent

    def echoing(cfg: dict[str, str]) -> dict[str, list[str]]:  # workers echo bad values back
        return {"database.password": [f"Invalid value {cfg['database.password']} for password"]}

    worker.validator = echoing
    monkeypatch.setenv("CLI_TEST_PW", PASSWORD + "-new")
    for args in (["validate", str(path)], ["apply", str(path)], ["validate", str(path), "--json"]):
        code, err = run_top(worker, *args, capsys=capsys)
        assert code == EXIT_INVALID_CONFIG
        outputs.append(err)
    assert "for password" in "".join(outputs)
    everything = "\n".join([*outputs, logs.getvalue(), capsys.readouterr().out])
    assert "shop-outbox" in everything and "connect.call" in logs.getvalue()
    assert PASSWORD not in everything
