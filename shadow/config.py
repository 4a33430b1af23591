"""Configuration of the shadow pipeline, and the assembly of workers from it.

Values come from a mapping or ``CUTOVER_SHADOW_*`` environment variables; the
database DSN is a :class:`~cutover_common.secrets.Secret` and never prints.
Each *consumer group* is one :class:`WorkerKind`: the order flow (contexts
``order``, ``inventory``, ``payment``, ``shipping``, ``email``) in group
``<group_id>``, and the analytics consumer in ``<group_id>.analytics``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from cutover_common.modes import Mode
from cutover_common.secrets import Secret
from legacy_app.orderflow.effects import (
    EffectPort,
    HttpEffects,
    RecordingEffects,
    default_service_urls,
)
from legacy_app.orderflow.processors import (
    FLOW_CONTEXTS,
    AnalyticsProcessor,
    Coordination,
    FlowProcessor,
)
from legacy_app.orderflow.store_pg import PostgresStore
from shadow.dlq import dlq_topic_for
from shadow.errors import ShadowConfigError
from shadow.kafka import KafkaConsumerAdapter, KafkaProducerAdapter, consumer_config
from shadow.metrics import Metrics
from shadow.pg import DEFAULT_SCHEMA
from shadow.plugin import Processor
from shadow.runtime import RuntimeSettings, ShadowWorker

ALL_CONTEXTS: tuple[str, ...] = (*sorted(FLOW_CONTEXTS), "analytics")
WorkerKind = Literal["flow", "analytics"]


@dataclass(frozen=True, slots=True)
class ShadowConfig:
    """Everything a shadow worker needs."""

    bootstrap_servers: str
    dsn: Secret
    group_id: str = "cutover.shadow"
    topics: tuple[str, ...] = ("outbox.event.order",)
    dlq_topic: str | None = None
    schema: str = DEFAULT_SCHEMA
    contexts: tuple[str, ...] = ALL_CONTEXTS
    coordination: Mapping[str, str] = field(default_factory=lambda: {"order": "choreography"})
    mode: Mode = Mode.DUAL
    service_urls: Mapping[str, str] = field(default_factory=default_service_urls)
    batch_size: int = 1000
    batch_timeout: float = 0.1  # a batch closes when full or after this: bounds the added lag
    max_attempts: int = 3
    metrics_port: int | None = None
    bug: str | None = None  # a deliberately wrong handler (shadow.bugs), negative rehearsals only
    write_behind: bool = True  # where effects are only recorded (see ShadowConfig.writes_behind)

    def __post_init__(self) -> None:
        unknown = set(self.contexts) - set(ALL_CONTEXTS)
        if unknown:
            raise ShadowConfigError(
                "contexts", f"unknown contexts {sorted(unknown)}; known: {ALL_CONTEXTS}"
            )
        if self.mode not in (Mode.DUAL, Mode.ASYNC, Mode.EVENTS_ONLY):
            raise ShadowConfigError(
                "mode", f"the shadow runs in dual, async or events-only, not {self.mode}"
            )
        for context, style in self.coordination.items():
            if style not in {c.value for c in Coordination}:
                raise ShadowConfigError(
                    f"coordination.{context}", f"{style!r} is not choreography or saga"
                )

    @property
    def dead_letter_topic(self) -> str:
        return self.dlq_topic or dlq_topic_for(self.group_id)

    def writes_behind(self, kind: WorkerKind) -> bool:
        """Whether ``kind``'s workers may write a batch behind the next one's handlers. The
        runtime does so only for batches whose events all have recorded effects (``dual``
        mode, per event), never for real calls to services."""
        return self.write_behind

    def group_for(self, kind: WorkerKind) -> str:
        return self.group_id if kind == "flow" else f"{self.group_id}.analytics"

    def kinds(self) -> list[WorkerKind]:
        """The consumer groups the selected contexts need."""
        out: list[WorkerKind] = []
        if set(self.contexts) & FLOW_CONTEXTS:
            out.append("flow")
        if "analytics" in self.contexts:
            out.append("analytics")
        return out

    def with_overrides(self, **changes: object) -> ShadowConfig:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **given: object) -> ShadowConfig:
        """Build from ``CUTOVER_SHADOW_*`` variables; keyword arguments win."""
        e = dict(os.environ if env is None else env)
        values: dict[str, object] = {}
        if "CUTOVER_SHADOW_BOOTSTRAP" in e:
            values["bootstrap_servers"] = e["CUTOVER_SHADOW_BOOTSTRAP"]
        if "CUTOVER_SHADOW_DSN" in e:
            values["dsn"] = Secret(e["CUTOVER_SHADOW_DSN"])
        if "CUTOVER_SHADOW_GROUP" in e:
            values["group_id"] = e["CUTOVER_SHADOW_GROUP"]
        if "CUTOVER_SHADOW_TOPICS" in e:
            values["topics"] = tuple(t for t in e["CUTOVER_SHADOW_TOPICS"].split(",") if t)
        if "CUTOVER_SHADOW_MODE" in e:
            values["mode"] = Mode(e["CUTOVER_SHADOW_MODE"])
        if e.get("CUTOVER_SHADOW_BUG"):
            values["bug"] = e["CUTOVER_SHADOW_BUG"]
        if "CUTOVER_SHADOW_COORDINATION" in e:
            values["coordination"] = {"order": e["CUTOVER_SHADOW_COORDINATION"]}
        values.update({k: v for k, v in given.items() if v is not None})
        if "bootstrap_servers" not in values or "dsn" not in values:
            raise ShadowConfigError(
                "bootstrap_servers/dsn",
                "set CUTOVER_SHADOW_BOOTSTRAP and CUTOVER_SHADOW_DSN (or pass them)",
            )
        return cls(**values)  # type: ignore[arg-type]


def effects_for(config: ShadowConfig) -> EffectPort:
    """Recording adapter in ``dual`` mode; HTTP adapter once the event path is authoritative."""
    if config.mode is Mode.DUAL:
        return RecordingEffects()
    return HttpEffects(config.service_urls)


def processor_for(config: ShadowConfig, kind: WorkerKind) -> Processor:
    if kind == "analytics":
        return AnalyticsProcessor()
    contexts = set(config.contexts) & FLOW_CONTEXTS
    coordination = Coordination(config.coordination.get("order", Coordination.CHOREOGRAPHY.value))
    from legacy_app.orderflow.bugs import with_bug

    flow = FlowProcessor(
        RecordingEffects(),
        contexts=contexts,
        coordination=coordination,
        performing=HttpEffects(config.service_urls),
        default_mode=config.mode.value,
    )
    return with_bug(flow, config.bug)


def settings_for(config: ShadowConfig, kind: WorkerKind = "flow") -> RuntimeSettings:
    """Runtime settings of one consumer group. Each group dead-letters into its own topic
    (``<group>.dlq``), so a poison message seen by two groups is counted once per group."""
    return RuntimeSettings(
        topics=config.topics,
        dlq_topic=config.dlq_topic or dlq_topic_for(config.group_for(kind)),
        batch_size=config.batch_size,
        batch_timeout=config.batch_timeout,
        max_attempts=config.max_attempts,
    )


def build_worker(
    config: ShadowConfig, kind: WorkerKind, *, metrics: Metrics | None = None
) -> ShadowWorker:
    """A worker wired to the real Kafka and PostgreSQL (schema ensured, stock seeded)."""
    from legacy_app.orderflow.catalogue import initial_stock

    store = PostgresStore(config.dsn.reveal(), config.schema)
    store.ensure_schema(initial_stock())
    writer = (
        PostgresStore(config.dsn.reveal(), config.schema) if config.writes_behind(kind) else None
    )
    consumer = KafkaConsumerAdapter(
        consumer_config(config.bootstrap_servers, config.group_for(kind))
    )
    producer = KafkaProducerAdapter(config.bootstrap_servers)
    worker = ShadowWorker(
        consumer,
        producer,
        store,
        processor_for(config, kind),
        settings_for(config, kind),
        metrics=metrics,
        writer=writer,
    )
    worker.start()
    return worker
