"""The topics a Debezium Postgres connector writes to, read from its Connect config.

With ``auto.create.topics.enable=false`` on the broker, a connector whose task writes to a
topic that does not exist fails (its producer times out waiting for the topic's metadata),
so every topic it writes must exist before it starts:

- the Outbox Event Router's topics, ``<route prefix>.<aggregatetype>``: which aggregate
  types exist is the application's knowledge, not the config's (the plan's contexts name
  them); a row with an aggregate type nobody created a topic for stops the task, loudly;
- the heartbeat topic, ``<topic.heartbeat.prefix>.<topic.prefix>`` (Debezium's default
  prefix ``__debezium-heartbeat``), when ``heartbeat.interval.ms`` is above zero;
- one change-event topic per captured table the router does not route
  (``<topic.prefix>.<schema>.<table>``: the heartbeat table, a signal table);
- ``<topic.prefix>.transaction`` when ``provide.transaction.metadata`` is on.

Kafka Connect's own topic creation (``topic.creation.default.*`` in a connector config) is
left off on purpose: its default group matches every topic, so it would create a typo'd
aggregate type's topic as silently as the broker's auto-creation does. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

HEARTBEAT_PREFIX = "__debezium-heartbeat"


def connector_topics(config: Mapping[str, object]) -> list[str]:
    """The topics a connector with Connect config ``config`` writes to other than the
    Outbox Event Router's: heartbeat, captured tables' change events, transactions (none
    for a config without Debezium's ``topic.prefix``)."""
    if "topic.prefix" not in config:
        return []
    prefix = str(config["topic.prefix"])
    delimiter = str(config.get("topic.delimiter", "."))
    topics: list[str] = []
    if int(str(config.get("heartbeat.interval.ms", "0"))) > 0:
        heartbeat = str(config.get("topic.heartbeat.prefix", HEARTBEAT_PREFIX))
        topics.append(f"{heartbeat}{delimiter}{prefix}")
    routed = _routed_tables(config, prefix, delimiter)
    for table in _listed(config.get("table.include.list")):
        topic = f"{prefix}{delimiter}{table}"
        if topic not in routed:
            topics.append(topic)
    if str(config.get("provide.transaction.metadata", "false")).lower() == "true":
        topics.append(f"{prefix}{delimiter}transaction")
    return topics


def _listed(value: object) -> list[str]:
    return [part.strip() for part in str(value or "").split(",") if part.strip()]


def _routed_tables(config: Mapping[str, object], prefix: str, delimiter: str) -> set[str]:
    """The captured tables' topics the router's predicate matches (their records are
    rerouted by aggregate type, so their own topic is never written)."""
    pattern = config.get("predicates.isOutbox.pattern")
    if not pattern:
        return set()
    regex = re.compile(str(pattern))
    return {
        f"{prefix}{delimiter}{table}"
        for table in _listed(config.get("table.include.list"))
        if regex.fullmatch(f"{prefix}{delimiter}{table}")
    }


def routed_topic(config: Mapping[str, object], aggregate_type: str) -> str | None:
    """The topic the Outbox Event Router of ``config`` sends ``aggregate_type``'s events to
    (``None``: the config routes no outbox)."""
    replacement = config.get("transforms.outbox.route.topic.replacement")
    if replacement is None:
        return None
    return str(replacement).replace("${routedByValue}", aggregate_type)
