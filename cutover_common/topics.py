"""Kafka topics created before use: brokers run with ``auto.create.topics.enable=false``.

A producer or consumer that names a topic the broker does not have gets an error, not a
silent new topic: a typo in an outbox row's aggregate type fails the connector's task
loudly instead of creating ``outbox.event.ordr``. So everything cutover reads or writes is
created first, by :meth:`KafkaTopicAdmin.ensure_topics` (idempotent: only missing topics
are created, existing ones are never altered): the plan's topics (``cutover topics ensure``,
``cutover advance`` into phase 2, :mod:`phases.plan_topics`) and each shadow consumer's
dead-letter topic (``cutover shadow run`` at start).

:class:`TopicSpecValue` is the value; :class:`KafkaTopicAdmin` the confluent-kafka adapter
(:class:`phases.ports.TopicAdmin` is its port, ``phases.fakes.FakeTopicAdmin`` the fake).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cutover_common.errors import KafkaUnreachable, TopicCreationFailed


@dataclass(frozen=True, slots=True)
class TopicSpecValue:
    """A topic to create: name, partitions, replication factor and retention (``None``:
    the broker's default)."""

    name: str
    partitions: int
    replication_factor: int = 1
    retention_ms: int | None = None

    def configs(self) -> dict[str, str]:
        """Topic-level configs to create it with."""
        return {"retention.ms": str(self.retention_ms)} if self.retention_ms else {}


def unique_specs(specs: Iterable[TopicSpecValue]) -> list[TopicSpecValue]:
    """``specs`` with the first of each name kept, in order."""
    seen: dict[str, TopicSpecValue] = {}
    for spec in specs:
        seen.setdefault(spec.name, spec)
    return list(seen.values())


def missing_topics(specs: Iterable[TopicSpecValue], existing: set[str]) -> list[TopicSpecValue]:
    """The specs whose topic ``existing`` lacks (deduplicated by name)."""
    return [s for s in unique_specs(specs) if s.name not in existing]


class KafkaTopicAdmin:
    """Lists and creates topics with confluent-kafka's AdminClient."""

    def __init__(self, conf: Mapping[str, Any], *, timeout_s: float = 30.0) -> None:
        from confluent_kafka.admin import AdminClient

        self.conf, self.timeout_s = dict(conf), timeout_s
        self.admin = AdminClient(self.conf)

    def existing_topics(self) -> set[str]:
        """Every topic the broker lists (internal ones included)."""
        from confluent_kafka import KafkaException

        try:
            return set(self.admin.list_topics(timeout=10).topics)
        except KafkaException as exc:
            raise KafkaUnreachable(str(self.conf.get("bootstrap.servers")), str(exc)) from exc

    def ensure_topics(self, specs: Sequence[TopicSpecValue]) -> list[str]:
        """Create the missing topics of ``specs`` and wait until the broker lists them;
        return the names created (a topic another client created meanwhile is not)."""
        from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]

        new = [
            NewTopic(
                s.name,
                num_partitions=s.partitions,
                replication_factor=s.replication_factor,
                config=s.configs(),
            )
            for s in missing_topics(specs, self.existing_topics())
        ]
        if not new:
            return []
        created: list[str] = []
        futures = self.admin.create_topics(new, request_timeout=self.timeout_s)
        for name, future in futures.items():
            try:
                future.result()
            except Exception as exc:
                # Another creator won the race, or this client's metadata was stale.
                if "TOPIC_ALREADY_EXISTS" not in str(exc):
                    raise TopicCreationFailed(name, str(exc)) from exc
            else:
                created.append(name)
        self._await_visible(created)
        return created

    def _await_visible(self, names: Sequence[str]) -> None:
        """Wait until the broker's metadata lists ``names``: a creation is acknowledged
        by the controller before every broker answers metadata requests with it."""
        deadline = time.monotonic() + self.timeout_s
        missing = set(names) - self.existing_topics()
        while missing:
            if time.monotonic() > deadline:
                reason = f"created but not listed after {self.timeout_s:.0f}s"
                raise TopicCreationFailed(", ".join(sorted(missing)), reason)
            time.sleep(0.1)
            missing -= self.existing_topics()
