"""Topics for integration tests, created the way ``cutover advance`` creates the plan's.

The brokers run with ``auto.create.topics.enable=false``: a test creates every topic it
produces to, subscribes to, or has a connector write to, before use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cdc.topics import connector_topics, routed_topic
from cutover_common.topics import KafkaTopicAdmin, TopicSpecValue


def ensure_topics(bootstrap_servers: str, topics: Mapping[str, int]) -> list[str]:
    """Create ``topic -> partitions`` where missing and wait until the broker lists them;
    the names created."""
    admin = KafkaTopicAdmin({"bootstrap.servers": bootstrap_servers})
    return admin.ensure_topics([TopicSpecValue(name, n) for name, n in topics.items()])


def ensure_connector_topics(
    bootstrap_servers: str,
    config: Mapping[str, object],
    aggregate_types: Sequence[str] = ("order",),
    partitions: int = 1,
) -> list[str]:
    """Create what a connector with Connect config ``config`` writes to: its heartbeat and
    captured tables' topics, and the routed topic of each of ``aggregate_types``."""
    routed = [routed_topic(config, a) for a in aggregate_types]
    topics = {t: 1 for t in connector_topics(config)}
    topics.update({t: partitions for t in routed if t is not None})
    return ensure_topics(bootstrap_servers, topics)
