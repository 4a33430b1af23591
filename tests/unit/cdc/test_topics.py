"""The topics a Debezium connector writes to, read from its Connect config."""

from __future__ import annotations

from typing import Any

from cdc.debezium import (
    DatabaseOptions,
    HeartbeatOptions,
    OutboxOptions,
    PostgresConnectorOptions,
    build_postgres_config,
)
from cdc.topics import connector_topics, routed_topic
from cutover_common.secrets import Secret


def _config(**kw: Any) -> dict[str, object]:
    db = DatabaseOptions("db", 5432, "u", "d", Secret("pw"))
    opts = PostgresConnectorOptions(
        database=db, topic_prefix="srv", slot_name="s", publication_name="p", **kw
    )
    return dict(build_postgres_config(opts))


def test_an_outbox_connector_writes_its_heartbeat_topic_and_the_heartbeat_table_topic() -> None:
    topics = connector_topics(_config())

    assert topics == ["__debezium-heartbeat.srv", "srv.public.debezium_heartbeat"]


def test_the_routed_outbox_table_has_no_topic_of_its_own() -> None:
    assert not [t for t in connector_topics(_config()) if t.endswith(".outbox")]


def test_without_heartbeat_no_heartbeat_topic() -> None:
    assert connector_topics(_config(heartbeat=None)) == []


def test_an_action_query_heartbeat_captures_no_table() -> None:
    heartbeat = HeartbeatOptions(table=None)

    assert connector_topics(_config(heartbeat=heartbeat)) == ["__debezium-heartbeat.srv"]


def test_captured_tables_and_transaction_metadata_get_topics() -> None:
    config = _config(tables=("public.orders",), transaction_metadata=True, heartbeat=None)

    assert connector_topics(config) == ["srv.public.orders", "srv.transaction"]


def test_a_configured_heartbeat_prefix_is_followed() -> None:
    config = {**_config(heartbeat=HeartbeatOptions(table=None)), "topic.heartbeat.prefix": "hb"}

    assert connector_topics(config) == ["hb.srv"]


def test_a_config_without_a_topic_prefix_names_no_topics() -> None:
    assert connector_topics({"connector.class": "FileStreamSource"}) == []


def test_routed_topic_is_the_prefix_and_the_aggregate_type() -> None:
    config = _config(outbox=OutboxOptions(topic_prefix="events"))

    assert routed_topic(config, "order") == "events.order"
    assert routed_topic(_config(outbox=None, tables=("public.t",)), "order") is None
