"""``cutover app`` wrappers, and the rule that only the CLI knows the rehearsal stack."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from legacy_app.config import service_ports
from legacy_app.errors import ConfigError
from rehearsal import app_cli as cli


def test_library_modules_do_not_import_rehearsal() -> None:
    code = (
        "import sys, legacy_app.app, legacy_app.runner, legacy_app.outcomes, legacy_app.wsgi, "
        "legacy_app.ledger, legacy_app.services.payment; "
        "print([m for m in sys.modules if m.startswith('rehearsal')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_default_spec_uses_the_stack_database_and_state_dir(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CUTOVER_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("CUTOVER_PG_PORT", "5999")
    monkeypatch.delenv("CUTOVER_KAFKA_PORT", raising=False)  # the default broker port
    spec = cli.default_spec("mydb")
    assert spec.run_dir == tmp_path / "app"
    assert spec.database_url.reveal().endswith(":5999/mydb")
    assert "Secret('***')" in repr(spec)  # the URL (with its password) never prints
    assert spec.ports["order"] == 5000 and spec.ports["email"] == 5004
    assert spec.env["CUTOVER_KAFKA_BOOTSTRAP_SERVERS"].endswith(":9092")


def test_status_of_nothing_running_is_json_and_exit_7_unhealthy(
    monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CUTOVER_STATE_DIR", str(tmp_path))
    buf = io.StringIO()
    statuses = cli.app_status(buf, as_json=True)
    data = json.loads(buf.getvalue())
    assert [d["service"] for d in data] == ["order", "inventory", "payment", "shipping", "email"]
    assert not any(s.running for s in statuses)
    result = CliRunner().invoke(cli.app, ["status", "--json"])
    assert result.exit_code == 7


def test_down_with_nothing_running(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CUTOVER_STATE_DIR", str(tmp_path))
    buf = io.StringIO()
    assert cli.app_down(buf) == []
    assert "nothing was running" in buf.getvalue()


@pytest.mark.parametrize("command", ["up", "down", "status"])
def test_commands_have_help(command: str) -> None:
    result = CliRunner().invoke(cli.app, [command, "--help"])
    assert result.exit_code == 0 and "--json" in result.output


def test_ports_from_defaults_env_then_overrides() -> None:
    ports = service_ports({"email": 7004}, {"CUTOVER_APP_PAYMENT_PORT": "7002"})
    assert ports == {
        "order": 5000,
        "inventory": 5001,
        "payment": 7002,
        "shipping": 5003,
        "email": 7004,
    }
    with pytest.raises(ConfigError):
        service_ports({"billing": 1}, {})


def test_bad_port_option_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli.app, ["up", "--port", "payment:5002"])
    assert result.exit_code == 2 and "SERVICE=PORT" in result.output


def test_a_setting_the_sample_refuses_is_one_line_of_the_cli(tmp_path: Path) -> None:
    with pytest.raises(cli.AppCommandFailed, match="billing") as caught:
        cli.app_up(io.StringIO(), ports={"billing": 1}, run_dir=tmp_path)
    assert caught.value.hint is not None and caught.value.hint.startswith("set CUTOVER_")
    assert isinstance(caught.value.__cause__, ConfigError)
