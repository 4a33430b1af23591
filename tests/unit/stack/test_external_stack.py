"""``CUTOVER_STACK=external``: endpoints from the environment, nothing started or stopped, and
the compose ``rehearse`` service setting exactly the variables the code reads."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from cutover_common import config
from cutover_common.cli import run_cli
from cutover_common.exit_codes import ExitCode
from phases.cli import cli
from rehearsal.environment import RehearsalEnvironment, check_external_faults
from rehearsal.faults import inject
from rehearsal.scenario import Fault, FaultKind, ScenarioError, load_scenario
from rehearsal.stack import manager
from rehearsal.stack.compose import INTERNAL_KAFKA_PORT, rehearse_env
from rehearsal.stack.endpoints import (
    EXTERNAL_REQUIRED,
    external_endpoints,
    is_external,
    load_endpoints,
    password_file,
)
from rehearsal.stack.errors import ExternalStackError, ExternalStackRefusal
from rehearsal.stack.topology import Topology

PASSWORD = "pg s3cret:@/?"  # a test value, not URL-safe on purpose

COMPLETE = {
    "CUTOVER_STACK": "external",
    "CUTOVER_PG_HOST": "db.internal",
    "CUTOVER_PG_PORT": "6432",
    "CUTOVER_PG_USER": "migrator",
    "CUTOVER_PG_DATABASE": "shop",
    "PGPASSWORD": PASSWORD,
    "CUTOVER_KAFKA_BOOTSTRAP_SERVERS": "k1:9092,k2:9092",
    "CUTOVER_CONNECT_URL": "http://connect.internal:8083/",
}


def _error(environ: dict[str, str]) -> str:
    with pytest.raises(ExternalStackError) as caught:
        load_endpoints(Topology(), environ)
    text = caught.value.one_line()
    assert "\n" not in text
    return text


def test_external_endpoints_come_from_the_environment_with_no_password_in_any_url() -> None:
    ep = load_endpoints(Topology(), COMPLETE)

    assert (ep.host, ep.pg_port, ep.pg_user, ep.pg_database) == (
        "db.internal",
        6432,
        "migrator",
        "shop",
    )
    assert ep.bootstrap_servers == "k1:9092,k2:9092"
    assert ep.connect_url == "http://connect.internal:8083"
    assert ep.connect_auth is None
    assert ep.password_from_env
    assert ep.database_url("run1") == "postgresql+psycopg://migrator@db.internal:6432/run1"
    assert ep.dsn() == "host=db.internal port=6432 user=migrator dbname=shop"
    assert PASSWORD not in repr(ep)
    # connectors name the worker's variable: the value never reaches Connect
    assert ep.connector_password.render() == "${env:CUTOVER_PG_PASSWORD}"
    assert PASSWORD not in ep.connector_password.render()


def test_the_port_defaults_to_5432_and_a_bad_one_is_refused() -> None:
    without = {k: v for k, v in COMPLETE.items() if k != "CUTOVER_PG_PORT"}
    assert load_endpoints(Topology(), without).pg_port == 5432
    assert "CUTOVER_PG_PORT='54x'" in _error({**COMPLETE, "CUTOVER_PG_PORT": "54x"})


def test_a_missing_password_names_both_of_its_sources() -> None:
    text = _error({k: v for k, v in COMPLETE.items() if k != "PGPASSWORD"})

    assert "not set: PGPASSWORD (or CUTOVER_PG_PASSWORD_FILE, a file holding it)" in text
    assert "CUTOVER_STACK=external" in text


def test_every_missing_variable_is_named_in_one_line() -> None:
    text = _error({"CUTOVER_STACK": "external"})

    for setting in EXTERNAL_REQUIRED:
        assert setting.name in text
    assert "PGPASSWORD" in text
    assert "CUTOVER_PG_PORT" not in text  # it has a default


def test_the_password_file_is_read_when_pgpassword_is_not_set(tmp_path: Path) -> None:
    secret = tmp_path / "pg_password"
    secret.write_text(PASSWORD + "\n")
    environ = {k: v for k, v in COMPLETE.items() if k != "PGPASSWORD"}

    ep = load_endpoints(Topology(), {**environ, "CUTOVER_PG_PASSWORD_FILE": str(secret)})

    assert ep.pg_password.reveal() == PASSWORD
    assert not ep.password_from_env  # libpq would not find it: the URL carries it, in memory
    assert f"password={PASSWORD} " in ep.dsn()
    assert PASSWORD not in repr(ep)


def test_pgpassword_wins_over_the_file_and_an_unreadable_or_empty_one_is_one_line(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "nope"
    with_file = {**COMPLETE, "CUTOVER_PG_PASSWORD_FILE": str(missing)}
    assert load_endpoints(Topology(), with_file).password_from_env

    no_env = {k: v for k, v in with_file.items() if k != "PGPASSWORD"}
    text = _error(no_env)
    assert f"CUTOVER_PG_PASSWORD_FILE names {missing}, which cannot be read: No such file" in text

    missing.write_text("\n")
    assert f"CUTOVER_PG_PASSWORD_FILE names {missing}, which is empty" in _error(no_env)


def test_connect_auth_comes_from_the_variable_its_setting_names() -> None:
    named = {**COMPLETE, "CUTOVER_CONNECT_AUTH_ENV": "TEAM_CONNECT", "TEAM_CONNECT": "ops:pw1"}
    auth = load_endpoints(Topology(), named).connect_auth
    assert auth is not None
    assert (auth.username, auth.password.reveal()) == ("ops", "pw1")

    default = load_endpoints(Topology(), {**COMPLETE, "CUTOVER_CONNECT_AUTH": "cutover:pw2"})
    assert default.connect_auth is not None
    assert default.connect_auth.password.reveal() == "pw2"

    unset = {**COMPLETE, "CUTOVER_CONNECT_AUTH_ENV": "TEAM_CONNECT"}
    assert "CUTOVER_CONNECT_AUTH_ENV names TEAM_CONNECT, which is not set" in _error(unset)


def test_the_mode_is_local_unless_set_and_nothing_else_is_accepted(tmp_path: Path) -> None:
    assert not is_external({})
    assert is_external({"CUTOVER_STACK": " External "})
    assert "CUTOVER_STACK='docker' is neither 'local' nor 'external'" in _error(
        {**COMPLETE, "CUTOVER_STACK": "docker"}
    )

    topology = replace(Topology(), state_dir=tmp_path)  # local: the state directory's password
    password_file(topology).parent.mkdir(parents=True)
    password_file(topology).write_text("local-pw\n")
    local = load_endpoints(topology, {k: v for k, v in COMPLETE.items() if k != "CUTOVER_STACK"})
    assert (local.host, local.pg_port, local.pg_password.reveal()) == (
        "127.0.0.1",
        54320,
        "local-pw",
    )
    assert not local.password_from_env


@pytest.fixture
def external(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name, value in COMPLETE.items():
        monkeypatch.setenv(name, value)
    state = tmp_path / "state"
    monkeypatch.setenv("CUTOVER_STATE_DIR", str(state))
    return state


@pytest.mark.parametrize("argv", [["stack", "up"], ["stack", "down", "--wipe"]])
def test_stack_up_and_down_are_refused_and_touch_nothing(
    external: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_cli(cli, argv)

    err = capsys.readouterr().err
    assert code == ExitCode.ERROR
    assert err.startswith(f"error: `cutover stack {argv[1]}` does nothing to an external stack")
    assert err.count("\n") == 1
    assert not external.exists()  # no lock, no state directory, no process


def test_a_rehearsal_on_an_external_stack_starts_nothing(external: Path) -> None:
    with pytest.raises(ExternalStackRefusal):
        manager.up(Topology(state_dir=external))
    with pytest.raises(ExternalStackRefusal):  # what a restart fault would do
        manager.down(Topology(state_dir=external), only=("connect",))
    assert not external.exists()


def test_the_app_listens_on_the_rehearsal_host_not_the_database_host(external: Path) -> None:
    env = RehearsalEnvironment(
        replace(Topology(), state_dir=external), load_scenario("default"), "x1"
    )

    assert env.endpoints.host == "db.internal"
    assert env.names().host == "127.0.0.1"
    assert env.database_url() == "postgresql+psycopg://migrator@db.internal:6432/rehearsal_x1"
    assert "password" not in env.workers.spec.env["CUTOVER_SHADOW_DSN"]


def test_compose_sets_exactly_what_external_mode_reads() -> None:
    compose_env = rehearse_env(Topology())
    known = {s.name for s in config.SETTINGS}

    assert set(compose_env) <= known
    assert set(compose_env) == {
        config.STACK.name,
        config.PG_PORT.name,
        *(s.name for s in EXTERNAL_REQUIRED),
    }
    # the password is the wrapper's PGPASSWORD, never a compose environment value
    ep = external_endpoints({**compose_env, "PGPASSWORD": PASSWORD})
    assert (ep.host, ep.pg_port, ep.pg_user, ep.pg_database) == (
        "postgres",
        5432,
        Topology().postgres.user,
        Topology().postgres.database,
    )
    assert ep.bootstrap_servers == f"kafka:{INTERNAL_KAFKA_PORT}"
    assert ep.connect_url == "http://connect:8083"
    assert ep.password_from_env
    assert PASSWORD not in ep.database_url()


@dataclass
class ConnectorRestarts:
    """A fault target that records the REST restart of its connector, and nothing else."""

    restarted: int = 0

    def restart_connector(self) -> str:
        self.restarted += 1
        return "connector and tasks restarted through the REST API"


def test_restart_connect_on_an_external_stack_restarts_the_connector_not_the_worker(
    external: Path,
) -> None:
    target = ConnectorRestarts()

    record = inject(target, Fault(kind=FaultKind.RESTART_CONNECT, phase=3))  # type: ignore[arg-type]

    assert target.restarted == 1
    assert record.detail == "connector and tasks restarted through the REST API"
    assert not external.exists()  # no `stack down`/`up` ran


def test_a_scenario_restarting_kafka_or_postgres_is_refused_before_anything_starts(
    external: Path,
) -> None:
    scenario = load_scenario("default").model_copy(
        update={
            "faults": [
                Fault(kind=FaultKind.RESTART_CONNECT),
                Fault(kind=FaultKind.RESTART_KAFKA),
                Fault(kind=FaultKind.RESTART_POSTGRES, phase=4),
            ]
        }
    )
    env = RehearsalEnvironment(replace(Topology(), state_dir=external), scenario, "x2")

    with pytest.raises(ScenarioError) as caught:
        env.setup()

    text = caught.value.one_line()
    assert "faults.1.kind: restart_kafka needs the local stack" in text
    assert "faults.2.kind: restart_postgres needs the local stack" in text
    assert "faults.0" not in text
    assert not external.exists()
    check_external_faults(load_scenario("default"))  # restart_connect only: accepted
