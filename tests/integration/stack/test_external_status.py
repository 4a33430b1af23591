"""``cutover stack status`` with ``CUTOVER_STACK=external``: the real stack's endpoints,
given only through the environment, checked without starting anything; one that does not
answer is reported unhealthy (exit 7), never a pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cutover_common.cli import run_cli
from cutover_common.exit_codes import ExitCode
from phases.cli import cli
from rehearsal.stack.endpoints import Endpoints


@pytest.fixture
def external_env(
    endpoints: Endpoints, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    env = {
        "CUTOVER_STACK": "external",
        "CUTOVER_PG_HOST": endpoints.host,
        "CUTOVER_PG_PORT": str(endpoints.pg_port),
        "CUTOVER_PG_USER": endpoints.pg_user,
        "CUTOVER_PG_DATABASE": endpoints.pg_database,
        "PGPASSWORD": endpoints.pg_password.reveal(),
        "CUTOVER_KAFKA_BOOTSTRAP_SERVERS": endpoints.bootstrap_servers,
        "CUTOVER_CONNECT_URL": endpoints.connect_url,
        "CUTOVER_STATE_DIR": str(tmp_path / "not-the-stacks"),  # no local state to lean on
    }
    if endpoints.connect_auth is not None:
        auth = endpoints.connect_auth
        env["CUTOVER_CONNECT_AUTH"] = f"{auth.username}:{auth.password.reveal()}"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def _status(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object]]:
    code = run_cli(cli, ["stack", "status", "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_status_checks_the_external_endpoints_and_starts_nothing(
    external_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _status(capsys)

    assert code == ExitCode.OK
    assert report["healthy"] is True
    components = {c["name"]: c for c in report["components"]}  # type: ignore[attr-defined]
    assert components["connect"]["address"] == external_env["CUTOVER_CONNECT_URL"]
    assert all(c["pid"] is None and not c["started"] for c in components.values())
    assert not Path(external_env["CUTOVER_STATE_DIR"]).exists()


def test_a_wrong_password_is_an_unhealthy_database(
    external_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PGPASSWORD", "not-the-password")

    code, report = _status(capsys)

    assert code == ExitCode.UNHEALTHY
    healthy = {c["name"]: c["healthy"] for c in report["components"]}  # type: ignore[attr-defined]
    assert healthy == {"postgres": False, "kafka": True, "connect": True}
