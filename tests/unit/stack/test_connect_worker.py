"""The local stack's Connect worker: the database password through its ``env`` config provider
(never in a connector config), basic auth on its REST API once ``--connect-auth`` asked for
it; and what clients of the stack (the rehearsal, the smoke check) send."""

from __future__ import annotations

import stat
from dataclasses import replace
from pathlib import Path

import pytest

from cdc.debezium import PasswordRef
from rehearsal.sample import SampleSystem
from rehearsal.smoke import outbox_connector_options
from rehearsal.stack import connect_auth
from rehearsal.stack.endpoints import load_endpoints, password_file
from rehearsal.stack.errors import StackError
from rehearsal.stack.jars import JarLayout
from rehearsal.stack.kafka import connect_environ, connect_properties, connect_service
from rehearsal.stack.topology import (
    BASIC_AUTH_EXTENSION,
    ENV_CONFIG_PROVIDER,
    ConnectSettings,
    Topology,
)
from rehearsal.system import RunNames

JARS = JarLayout(Path("/jars/kafka"), Path("/jars/plugins"))


@pytest.fixture
def topo(tmp_path: Path) -> Topology:
    topology = Topology(state_dir=tmp_path)
    password_file(topology).parent.mkdir(parents=True)
    password_file(topology).write_text("pg-generated-pw\n")
    return topology


def test_the_worker_declares_the_env_provider_limited_to_the_password_variable() -> None:
    settings = ConnectSettings().worker_settings()

    assert settings["config.providers"] == "env"
    assert settings["config.providers.env.class"] == ENV_CONFIG_PROVIDER
    assert settings["config.providers.env.param.allowlist.pattern"] == "CUTOVER_PG_PASSWORD"


def test_only_the_env_provider_may_be_instantiated() -> None:
    assert ConnectSettings().jvm_properties() == {
        "org.apache.kafka.automatic.config.providers": ENV_CONFIG_PROVIDER
    }


def test_the_workers_environment_holds_the_generated_password(topo: Topology) -> None:
    assert connect_environ(topo)["CUTOVER_PG_PASSWORD"] == "pg-generated-pw"


def test_a_worker_without_the_password_file_is_not_started(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="password file"):
        connect_environ(Topology(state_dir=tmp_path))


def test_the_worker_properties_hold_no_password(topo: Topology) -> None:
    props = connect_properties(topo, JARS)

    assert "pg-generated-pw" not in str(props)
    assert "rest.extension.classes" not in props


def test_rest_auth_adds_the_basic_auth_extension(topo: Topology) -> None:
    props = connect_properties(topo, JARS, rest_auth=True)

    assert props["rest.extension.classes"] == BASIC_AUTH_EXTENSION


def test_the_worker_jvm_gets_its_system_properties_and_extra_classpath(topo: Topology) -> None:
    argv = connect_service(topo).argv(
        JARS, "worker.properties", properties={"a.b": "c"}, classpath=(Path("/auth"),)
    )

    assert "-Da.b=c" in argv
    assert argv[argv.index("-cp") + 1] == "/jars/kafka/*:/auth/*"


def test_connect_auth_is_off_until_asked_for(topo: Topology) -> None:
    assert not connect_auth.enabled(topo)
    assert connect_auth.credentials(topo) is None
    assert load_endpoints(topo).connect_auth is None
    assert connect_auth.auth_environ(topo) == {}


def test_connect_auth_keeps_its_password_private_and_stable(topo: Topology) -> None:
    connect_auth.enable(topo)
    first = connect_auth.credentials(topo)
    connect_auth.enable(topo)

    assert first is not None and first == connect_auth.credentials(topo)
    assert first.username == "cutover" and len(first.password.reveal()) >= 20
    assert stat.S_IMODE(connect_auth.password_file(topo).stat().st_mode) == 0o600
    assert load_endpoints(topo).connect_auth == first
    assert first.password.reveal() not in repr(load_endpoints(topo))


def test_the_worker_files_name_the_login_module_and_a_private_credentials_file(
    topo: Topology, tmp_path: Path
) -> None:
    connect_auth.enable(topo)
    auth = connect_auth.credentials(topo)
    assert auth is not None

    jaas = connect_auth.write_worker_files(topo, tmp_path / "config")

    users = tmp_path / "config" / "connect-credentials.properties"
    assert "PropertyFileLoginModule required" in jaas.read_text()
    assert f'file="{users}"' in jaas.read_text()
    assert users.read_text() == f"cutover: {auth.password.reveal()}\n"
    assert stat.S_IMODE(users.stat().st_mode) == 0o600


def test_the_clients_environment_carries_the_credentials_by_variable(topo: Topology) -> None:
    connect_auth.enable(topo)
    auth = connect_auth.credentials(topo)
    assert auth is not None

    assert connect_auth.auth_environ(topo) == {
        "CUTOVER_CONNECT_AUTH": f"cutover:{auth.password.reveal()}"
    }


def test_the_smoke_connector_names_the_password_by_reference(topo: Topology) -> None:
    options = outbox_connector_options(load_endpoints(topo), "db", "n", "p")

    assert options.database.password == PasswordRef("env", "CUTOVER_PG_PASSWORD")


def test_the_rehearsals_plan_names_a_reference_and_the_auth_variable() -> None:
    names = RunNames("p", "c", "s", "g", "localhost:9092", "http://localhost:8083", "r")
    plan = SampleSystem().plan_document(names)

    assert plan["connectors"]["outbox"] == {"password_ref": "${env:CUTOVER_PG_PASSWORD}"}
    assert plan["system"]["connect"]["auth_env"] == "CUTOVER_CONNECT_AUTH"


def test_a_changed_password_variable_changes_the_reference_and_the_allowlist() -> None:
    settings = replace(ConnectSettings(), password_env="TEAM_PG_PW")

    assert settings.password_ref() == "${env:TEAM_PG_PW}"
    assert settings.worker_settings()["config.providers.env.param.allowlist.pattern"] == (
        "TEAM_PG_PW"
    )
