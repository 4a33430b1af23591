"""Every Kafka topic a plan uses, so each is created before use (``cutover topics``).

Brokers run with ``auto.create.topics.enable=false`` (the local stack and compose do): a
topic nobody created is an error, never a silent new topic. From the plan alone:

- each context's topic (its partitions, replication factor and retention);
- the dead-letter topic of each context's shadow consumer group (``<group>.dlq``, what the
  gates read; ``cutover shadow run`` also creates the dead-letter topic of every consumer of
  its app when it starts);
- the broker gate's canary topic (``<topic_prefix>.cutover_canary``);
- for each connector the plan owns (:mod:`phases.outbox_connectors`), the topics its Connect
  config writes besides the routed events (:func:`cdc.topics.connector_topics`: the
  heartbeat topic, the heartbeat table's change events);
- not the shadow outbox's follow-up topics (``<shadow_outbox.topic_prefix>.<aggregate
  type>``): which aggregate types a shadow app emits is the app's knowledge, not the plan's;
  ``cutover topics ensure --topic NAME`` creates them.

Topics other than the contexts' get one partition and the contexts' largest replication
factor. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdc.topics import connector_topics
from cutover_common.topics import TopicSpecValue
from phases.adapters_kafka import CANARY_AGGREGATE, group_for
from phases.outbox_connectors import OutboxConnector, connector_config, plan_connectors
from phases.plan import Plan

# The topics of a connector do not depend on its database's address or password.
_ANY_DATABASE = "postgresql://cutover@localhost:5432/cutover"


@dataclass(frozen=True, slots=True)
class PlannedTopic:
    """A topic the plan uses and what for."""

    spec: TopicSpecValue
    purpose: str

    def to_dict(self) -> dict[str, object]:
        s = self.spec
        return {
            "name": s.name,
            "partitions": s.partitions,
            "replication_factor": s.replication_factor,
            "retention_ms": s.retention_ms,
            "purpose": self.purpose,
        }


def plan_topics(plan: Plan) -> list[PlannedTopic]:
    """The topics ``plan`` uses, each once (the first purpose named wins), contexts first."""
    found: dict[str, PlannedTopic] = {}
    for topic in [*_context_topics(plan), *_support_topics(plan)]:
        found.setdefault(topic.spec.name, topic)
    return list(found.values())


def _context_topics(plan: Plan) -> list[PlannedTopic]:
    out = []
    for name, ctx in plan.contexts.items():
        t = ctx.topic
        spec = TopicSpecValue(t.name, t.partitions, t.replication_factor, t.retention_ms)
        out.append(PlannedTopic(spec, f"events of context {name}"))
    return out


def _support_topics(plan: Plan) -> list[PlannedTopic]:
    rf = max((c.topic.replication_factor for c in plan.contexts.values()), default=1)

    def one(name: str, purpose: str) -> PlannedTopic:
        return PlannedTopic(TopicSpecValue(name, 1, rf), purpose)

    out = [one(f"{group_for(plan, c)}.dlq", f"dead letters of context {c}") for c in plan.contexts]
    out.append(one(f"{plan.system.kafka.topic_prefix}.{CANARY_AGGREGATE}", "the broker canary"))
    for connector in plan_connectors(plan):
        out += [one(t, f"written by connector {connector.name}") for t in _written_by(connector)]
    return out


def _written_by(connector: OutboxConnector) -> list[str]:
    env = {connector.password_env: ""} if connector.password_env else {}
    return connector_topics(connector_config(connector, _ANY_DATABASE, env))
