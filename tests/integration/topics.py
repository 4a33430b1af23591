"""Topics for integration tests, created the way ``cutover advance`` creates the plan's."""

from __future__ import annotations

from collections.abc import Mapping

from phases.adapters_kafka import KafkaTopicAdmin
from phases.ports import TopicSpecValue


def ensure_topics(bootstrap_servers: str, topics: Mapping[str, int]) -> list[str]:
    """Create ``topic -> partitions`` where missing and wait until the broker lists them;
    the names created."""
    admin = KafkaTopicAdmin({"bootstrap.servers": bootstrap_servers})
    return admin.ensure_topics([TopicSpecValue(name, n) for name, n in topics.items()])
