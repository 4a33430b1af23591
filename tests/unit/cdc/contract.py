"""One contract for a Kafka Connect worker, run against the fake and the real worker.

Subclasses provide the fixtures ``client`` (a :class:`ConnectClient`),
``make_config`` (name -> a valid connector config), ``invalid_config`` (a config
the worker's validation rejects, and a field it must name) and ``wait_s``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cdc.client import Config, ConnectClient
from cdc.errors import (
    ConnectBadRequest,
    ConnectConflict,
    ConnectError,
    ConnectNotFound,
    ConnectorNotFound,
    InvalidConnectorConfig,
)
from cdc.models import PAUSED, RUNNING, STOPPED

POSTGRES = "io.debezium.connector.postgresql.PostgresConnector"
MakeConfig = Callable[[str], dict[str, Any]]


class ConnectWorkerContract:
    """Behaviour every Connect worker (fake or real) must show through the client."""

    @pytest.fixture
    def name(self, unique: str) -> str:
        return f"contract-{unique}"

    def test_worker_info_reports_a_version(self, client: ConnectClient) -> None:
        info = client.worker_info()
        assert info.version.split(".")[0].isdigit()
        assert info.kafka_cluster_id

    def test_worker_health_endpoint(self, client: ConnectClient) -> None:
        assert client.health()["status"] == "healthy"

    def test_plugins_include_the_debezium_postgres_connector(self, client: ConnectClient) -> None:
        assert POSTGRES in {p.class_name for p in client.plugins()}

    def test_plugin_config_lists_definitions(self, client: ConnectClient) -> None:
        names = {d["name"] for d in client.plugin_config("PostgresConnector")}
        assert "database.hostname" in names

    def test_create_then_get_list_and_delete(
        self, client: ConnectClient, make_config: MakeConfig, name: str, wait_s: float
    ) -> None:
        config = make_config(name)
        info = client.create_connector(name, config)
        assert info.name == name
        assert client.get_config(name)["topic.prefix"] == config["topic.prefix"]
        client.wait_for(name, RUNNING, timeout_s=wait_s)
        assert name in client.list_connectors()
        row = {r.name: r for r in client.list_connectors_expanded()}[name]
        assert row.info is not None and row.info.config["connector.class"] == POSTGRES
        assert row.status is not None and row.status.state == RUNNING
        assert [t.id for t in client.status(name).tasks] == [0]
        assert client.task_status(name, 0).state == RUNNING
        assert client.get_connector(name).tasks == (0,)
        [task] = client.tasks(name)
        assert task["id"] == {"connector": name, "task": 0}
        assert task["config"].get("database.password", "***") == "***"  # redacted
        client.delete_connector(name)
        with pytest.raises(ConnectorNotFound):
            client.get_connector(name)

    def test_unknown_connector_is_a_typed_404_with_the_workers_message(
        self, client: ConnectClient, name: str
    ) -> None:
        with pytest.raises(ConnectorNotFound) as info:
            client.status(name)
        assert info.value.status == 404
        assert name in info.value.worker_message
        assert info.value.connector == name
        for call in (
            client.get_connector,
            client.get_config,
            client.pause,
            client.delete_connector,
        ):
            with pytest.raises(ConnectorNotFound):
                call(name)

    def test_validate_returns_per_field_errors_as_data(
        self, client: ConnectClient, invalid_config: tuple[Config, str]
    ) -> None:
        config, field = invalid_config
        result = client.validate(config)
        assert not result.ok
        assert result.error_count >= 1
        assert field in result.errors
        assert all(msg for msg in result.errors[field])

    def test_validate_requires_a_name(
        self, client: ConnectClient, make_config: MakeConfig, name: str
    ) -> None:
        config = {k: v for k, v in make_config(name).items() if k != "name"}
        assert "name" in client.validate(config).errors

    def test_validate_accepts_a_good_config(
        self, client: ConnectClient, make_config: MakeConfig, name: str
    ) -> None:
        result = client.validate(make_config(name), name=name)
        assert result.ok, result.errors
        assert result.errors == {}

    def test_create_with_an_invalid_config_names_the_bad_fields(
        self, client: ConnectClient, invalid_config: tuple[Config, str], name: str
    ) -> None:
        config, field = invalid_config
        with pytest.raises(InvalidConnectorConfig) as info:
            client.create_connector(name, config)
        assert field in info.value.field_errors
        assert info.value.connector == name
        assert isinstance(info.value.__cause__, ConnectError)
        assert name not in client.list_connectors()

    def test_duplicate_create_is_a_conflict(
        self, client: ConnectClient, make_config: MakeConfig, name: str
    ) -> None:
        client.create_connector(name, make_config(name))
        try:
            with pytest.raises(ConnectConflict) as info:
                client.create_connector(name, make_config(name))
            assert "already exists" in info.value.worker_message
        finally:
            client.delete_connector(name)

    def test_put_config_creates_then_updates(
        self, client: ConnectClient, make_config: MakeConfig, name: str, wait_s: float
    ) -> None:
        config = make_config(name)
        _, created = client.put_config(name, config)
        try:
            assert created
            client.wait_for(name, RUNNING, timeout_s=wait_s)
            info, created_again = client.put_config(
                name, {**config, "heartbeat.interval.ms": "2000"}
            )
            assert not created_again
            assert client.get_config(name)["heartbeat.interval.ms"] == "2000"
            assert info.name == name
        finally:
            client.delete_connector(name)

    def test_patch_config_changes_one_key(
        self, client: ConnectClient, make_config: MakeConfig, name: str
    ) -> None:
        client.create_connector(name, make_config(name))
        try:
            client.patch_config(name, {"heartbeat.interval.ms": "3000"})
            assert client.get_config(name)["heartbeat.interval.ms"] == "3000"
        finally:
            client.delete_connector(name)

    def test_pause_resume_stop_with_every_task(
        self, client: ConnectClient, make_config: MakeConfig, name: str, wait_s: float
    ) -> None:
        client.create_connector(name, make_config(name))
        try:
            client.wait_for(name, RUNNING, timeout_s=wait_s)
            client.pause(name)
            paused = client.wait_for(name, PAUSED, timeout_s=wait_s)
            assert [t.state for t in paused.tasks] == [PAUSED]
            client.resume(name)
            client.wait_for(name, RUNNING, timeout_s=wait_s)
            client.stop(name)
            stopped = client.wait_for(name, STOPPED, timeout_s=wait_s)
            assert stopped.tasks == ()
            client.resume(name)
            client.wait_for(name, RUNNING, timeout_s=wait_s)
        finally:
            client.delete_connector(name)

    def test_create_stopped_with_initial_state(
        self, client: ConnectClient, make_config: MakeConfig, name: str, wait_s: float
    ) -> None:
        client.create_connector(name, make_config(name), initial_state="STOPPED")
        try:
            assert client.wait_for(name, STOPPED, timeout_s=wait_s).tasks == ()
        finally:
            client.delete_connector(name)

    def test_restart_with_tasks_and_single_task_restart(
        self, client: ConnectClient, make_config: MakeConfig, name: str, wait_s: float
    ) -> None:
        client.create_connector(name, make_config(name))
        try:
            client.wait_for(name, RUNNING, timeout_s=wait_s)
            state = client.restart(name, include_tasks=True)
            assert state is not None and state.name == name
            client.wait_for(name, RUNNING, timeout_s=wait_s)
            assert client.restart(name) is None
            client.restart_task(name, 0)
            client.wait_for(name, RUNNING, timeout_s=wait_s)
            with pytest.raises(ConnectNotFound):
                client.task_status(name, 7)
        finally:
            client.delete_connector(name)

    def test_offsets_change_only_when_stopped(
        self, client: ConnectClient, make_config: MakeConfig, name: str, wait_s: float
    ) -> None:
        client.create_connector(name, make_config(name))
        try:
            client.wait_for(name, RUNNING, timeout_s=wait_s)
            with pytest.raises(ConnectBadRequest) as info:
                client.reset_offsets(name)
            assert "STOPPED" in info.value.worker_message
            client.stop(name)
            client.wait_for(name, STOPPED, timeout_s=wait_s)
            assert "reset" in client.reset_offsets(name).lower()
            assert client.get_offsets(name).entries == ()
        finally:
            client.delete_connector(name)

    def test_topics_listed_and_reset(
        self, client: ConnectClient, make_config: MakeConfig, name: str
    ) -> None:
        client.create_connector(name, make_config(name))
        try:
            assert isinstance(client.topics(name), list)
            client.reset_topics(name)
            assert client.topics(name) == []
        finally:
            client.delete_connector(name)

    def test_logger_levels_can_be_read_and_set(self, client: ConnectClient, unique: str) -> None:
        assert "root" in {lg.name for lg in client.loggers()}
        logger = f"cutover.contract.{unique}"
        changed = client.set_logger_level(logger, "debug")
        assert logger in changed
        assert client.logger(logger).level == "DEBUG"
