"""docker-compose.yml is valid Compose and agrees with the local stack's topology."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
import yaml

from rehearsal.stack.compose import COMPOSE_PATH, render_compose
from rehearsal.stack.topology import REPO_ROOT, Topology

_SHARED_SCHEMA = REPO_ROOT.parent / "shared" / "schemas" / "compose-spec.json"
SCHEMA_PATH = (
    _SHARED_SCHEMA if _SHARED_SCHEMA.exists() else REPO_ROOT / "tests" / "data" / "compose-spec.json"
)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_PATH.read_text())


def test_compose_file_validates_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    validator = jsonschema.Draft7Validator(schema)

    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose)]

    assert errors == []


def test_committed_compose_file_is_what_the_topology_generates() -> None:
    assert COMPOSE_PATH.read_text() == render_compose(Topology())


def test_compose_services_use_the_topology_versions(compose: dict[str, Any]) -> None:
    topo = Topology()
    services = compose["services"]

    assert services["postgres"]["image"] == f"postgres:{topo.postgres_major}"
    assert services["kafka"]["image"] == f"apache/kafka:{topo.kafka_version}"
    assert services["connect"]["image"].endswith(f":{topo.debezium_version}")


def test_compose_publishes_the_local_stack_ports(compose: dict[str, Any]) -> None:
    topo = Topology()
    services = compose["services"]

    assert services["postgres"]["ports"] == [f"{topo.postgres.port}:5432"]
    assert services["kafka"]["ports"] == [f"{topo.kafka.port}:{topo.kafka.port}"]
    assert services["connect"]["ports"] == [f"{topo.connect.port}:8083"]


def test_compose_postgres_runs_with_the_local_stack_server_settings(
    compose: dict[str, Any],
) -> None:
    command = compose["services"]["postgres"]["command"]
    pairs = {command[i + 1] for i, arg in enumerate(command) if arg == "-c"}

    assert pairs == {f"{k}={v}" for k, v in Topology().postgres.server_settings().items()}


def test_compose_kafka_carries_every_broker_setting_of_the_local_stack(
    compose: dict[str, Any],
) -> None:
    env = compose["services"]["kafka"]["environment"]

    for key, value in Topology().kafka.server_settings().items():
        if key == "listener.security.protocol.map":
            continue  # compose adds an EXTERNAL listener for the host
        assert env["KAFKA_" + key.upper().replace(".", "_")] == value, key


def test_compose_connect_carries_every_worker_setting_of_the_local_stack(
    compose: dict[str, Any],
) -> None:
    env = compose["services"]["connect"]["environment"]
    settings = Topology().connect.worker_settings()

    assert env["GROUP_ID"] == settings.pop("group.id")
    assert env["OFFSET_STORAGE_TOPIC"] == settings.pop("offset.storage.topic")
    assert env["CONFIG_STORAGE_TOPIC"] == settings.pop("config.storage.topic")
    assert env["STATUS_STORAGE_TOPIC"] == settings.pop("status.storage.topic")
    for key, value in settings.items():
        assert env["CONNECT_" + key.upper().replace(".", "_")] == value, key


def test_compose_never_holds_a_password_inline(compose: dict[str, Any]) -> None:
    password = compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"]

    assert password.startswith("${CUTOVER_PG_PASSWORD")
