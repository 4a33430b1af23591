"""``cutover shadow run`` creates each consumer's dead-letter topic before it starts: the
broker creates no topic on first use (auto.create.topics.enable=false)."""

from __future__ import annotations

from cutover_common.secrets import Secret
from cutover_common.topics import KafkaTopicAdmin
from rehearsal.stack.endpoints import Endpoints
from shadow.commands import ensure_dead_letter_topics
from shadow.config import ShadowConfig
from shadow.loader import AppConsumer


def test_each_consumers_dead_letter_topic_is_created_once(
    endpoints: Endpoints, unique: str
) -> None:
    config = ShadowConfig(endpoints.bootstrap_servers, Secret("postgresql://unused"))
    group = f"it-dlqt-{unique}"
    entries = [
        AppConsumer("app", group, ("t",), True),
        AppConsumer("projector", f"{group}.projector", ("t",), False),
    ]

    created = ensure_dead_letter_topics(config, entries)

    assert sorted(created) == [f"{group}.dlq", f"{group}.projector.dlq"]
    assert ensure_dead_letter_topics(config, entries) == []
    existing = KafkaTopicAdmin({"bootstrap.servers": endpoints.bootstrap_servers}).existing_topics()
    assert {f"{group}.dlq", f"{group}.projector.dlq"} <= existing
