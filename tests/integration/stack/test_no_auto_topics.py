"""The local stack's broker creates no topic on first use: a producer naming a topic nobody
created gets an error and no topic appears (cutover creates each topic before use)."""

from __future__ import annotations

from typing import Any

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import ConfigResource

from rehearsal.stack.endpoints import Endpoints
from rehearsal.stack.topology import Topology


def test_the_broker_runs_with_topic_auto_creation_off(
    endpoints: Endpoints, topology: Topology
) -> None:
    admin = AdminClient({"bootstrap.servers": endpoints.bootstrap_servers})
    broker = ConfigResource("BROKER", str(topology.kafka.node_id))

    [future] = admin.describe_configs([broker]).values()

    assert future.result(timeout=10)["auto.create.topics.enable"].value == "false"


def test_producing_to_an_uncreated_topic_fails_and_creates_nothing(
    endpoints: Endpoints, unique: str
) -> None:
    topic = f"it-noauto-{unique}.ordr"  # a typo'd aggregate type
    errors: list[Any] = []
    producer = Producer(
        {"bootstrap.servers": endpoints.bootstrap_servers, "message.timeout.ms": 3000}
    )

    producer.produce(topic, b"v", on_delivery=lambda err, _msg: errors.append(err))
    producer.flush(10)

    assert len(errors) == 1 and errors[0] is not None
    admin = AdminClient({"bootstrap.servers": endpoints.bootstrap_servers})
    assert topic not in admin.list_topics(timeout=10).topics
