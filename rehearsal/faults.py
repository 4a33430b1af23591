"""Fault injection for rehearsals: each fault acts on real processes and real data.

A fault returns a :class:`FaultRecord` saying what it did; whether the system survived
it is judged afterwards by the comparators and gates (zero lost, zero double-applied
outcomes), never by the fault itself.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import structlog
from confluent_kafka import Consumer, Producer, TopicPartition

from rehearsal.errors import NotReadyError
from rehearsal.scenario import Fault, FaultKind
from rehearsal.stack import manager
from rehearsal.stack.endpoints import is_external
from rehearsal.stack.topology import Topology
from rehearsal.workers import ShadowWorkers

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class FaultRecord:
    """What one injected fault did."""

    kind: str
    phase: int
    detail: str
    seconds: float
    injected: int = 1


class FaultTarget(Protocol):
    """What faults act on: the rehearsal environment."""

    topology: Topology
    workers: ShadowWorkers

    @property
    def primary_topic(self) -> str: ...

    @property
    def primary_event(self) -> str:
        """An event type the primary topic carries (the plan's first for its context)."""
        ...

    @property
    def bootstrap_servers(self) -> str: ...

    def service_fault(self, service: str, error_rate: float, timeout_rate: float = 0.0) -> str:
        """Put a share of one service's calls in error (the system's fault hook)."""
        ...

    def wait_pipeline_healthy(self, timeout: float = 120.0) -> float: ...

    def restart_connector(self) -> str:
        """Restart the outbox connector and its tasks through Connect's REST API."""
        ...

    def rewind_connector(self) -> str: ...


def _kill_shadow_worker(env: FaultTarget, fault: Fault) -> str:
    pid = env.workers.kill_one(0)
    time.sleep(1.0)
    env.workers.start()
    return f"kill -9 of shadow worker pid {pid} mid-batch, restarted"


STUCK_AFTER_S = 45.0


def _restart(component: str) -> Callable[[FaultTarget, Fault], str]:
    def restart(env: FaultTarget, fault: Fault) -> str:
        if component == "connect" and is_external():  # the worker is not cutover's
            return env.restart_connector()
        t0 = time.monotonic()
        stopped = manager.down(env.topology, only=(component,))
        _up(env, component)
        note = ""
        try:
            env.wait_pipeline_healthy(STUCK_AFTER_S)
        except NotReadyError as exc:
            if component == "connect":
                raise
            # A broker restart mid-transaction can leave a hanging transaction on Connect's
            # offsets topic (the worker then never finishes reading it) or the connector
            # unassigned. What an operator does: abort the hanging transactions and restart
            # the worker. ``start_connect`` aborts them; the rehearsal reports that it did.
            log.warning("pipeline_stuck_after_restart", component=component, reason=str(exc))
            manager.down(env.topology, only=("connect",))
            _up(env, "connect")
            env.wait_pipeline_healthy()
            note = f"; the pipeline stayed stuck ({exc.detail}), so Connect was restarted too"
        took = time.monotonic() - t0
        return f"restarted {', '.join(stopped) or component} in {took:.1f}s{note}"

    return restart


def _up(env: FaultTarget, component: str) -> None:
    report = manager.up(env.topology)
    if not report.healthy:
        raise NotReadyError("the local stack", f"unhealthy after restarting {component}")


def _downstream_errors(env: FaultTarget, fault: Fault) -> str:
    """The system's fault hook: ``error_rate`` of ``fault.service``'s requests answered 500
    (``timeout_rate`` held past the callers' timeout, where the system supports it), only
    that service restarted; the others keep serving the burst untouched."""
    return env.service_fault(fault.service, fault.error_rate, fault.timeout_rate)


POISON_LABELS = ("undecodable", "unknown_type", "schema_invalid")


def poison(label: str, event_type: str) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The value and headers of one poison message on a topic carrying ``event_type``: bytes
    that are no JSON, a type no contract knows, or ``event_type`` with a payload its contract
    rejects (a number where every contract's fields are missing)."""
    known = event_type.encode()
    return {
        "undecodable": (b"\xff\xfe not json", [("id", b"poison-undecodable"), ("type", known)]),
        "unknown_type": (
            b'{"id": "x"}',
            [("id", b"poison-unknown"), ("type", b"cutover.poison.teleported")],
        ),
        "schema_invalid": (b'{"id": 42}', [("id", b"poison-invalid"), ("type", known)]),
    }[label]


def _poison_events(env: FaultTarget, fault: Fault) -> str:
    producer = Producer({"bootstrap.servers": env.bootstrap_servers, "acks": "all"})
    sent = 0
    for i in range(fault.count):
        label = POISON_LABELS[i % len(POISON_LABELS)]
        value, headers = poison(label, env.primary_event)
        unique: list[tuple[str, str | bytes | None]] = [
            (k, v + f"-{uuid.uuid4().hex[:8]}".encode()) if k == "id" else (k, v)
            for k, v in headers
        ]
        producer.produce(
            env.primary_topic, key=f"poison-{label}-{i}".encode(), value=value, headers=unique
        )
        sent += 1
    producer.flush(30)
    return f"{sent} poison messages ({', '.join(POISON_LABELS)}) produced to {env.primary_topic}"


def _duplicate_deliveries(env: FaultTarget, fault: Fault) -> str:
    """Re-produce the last ``count`` messages of the topic unchanged (same event ids)."""
    consumer = Consumer(
        {
            "bootstrap.servers": env.bootstrap_servers,
            "group.id": f"rehearsal-dup-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        }
    )
    producer = Producer({"bootstrap.servers": env.bootstrap_servers, "acks": "all"})
    copied = 0
    try:
        meta = consumer.list_topics(env.primary_topic, timeout=10).topics[env.primary_topic]
        for pid in meta.partitions:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(env.primary_topic, pid), timeout=10
            )
            take = min(fault.count - copied, high - low)
            if take <= 0:
                continue
            consumer.assign([TopicPartition(env.primary_topic, pid, high - take)])
            got = consumer.consume(take, timeout=10)
            for msg in got:
                if msg.error() is None:
                    producer.produce(
                        msg.topic() or env.primary_topic,
                        key=msg.key(),
                        value=msg.value(),
                        headers=msg.headers() or [],
                    )
                    copied += 1
            if copied >= fault.count:
                break
    finally:
        consumer.close()
    producer.flush(30)
    return f"{copied} already-delivered events produced again with their original ids"


def _offset_rewind(env: FaultTarget, fault: Fault) -> str:
    return env.rewind_connector()


INJECTORS: dict[FaultKind, Callable[[FaultTarget, Fault], str]] = {
    FaultKind.KILL_SHADOW_WORKER: _kill_shadow_worker,
    FaultKind.RESTART_CONNECT: _restart("connect"),
    FaultKind.RESTART_KAFKA: _restart("kafka"),
    FaultKind.RESTART_POSTGRES: _restart("postgres"),
    FaultKind.DOWNSTREAM_ERRORS: _downstream_errors,
    FaultKind.POISON_EVENTS: _poison_events,
    FaultKind.DUPLICATE_DELIVERIES: _duplicate_deliveries,
    FaultKind.OFFSET_REWIND: _offset_rewind,
}


def inject(env: FaultTarget, fault: Fault) -> FaultRecord:
    """Inject ``fault`` into the running rehearsal and say what was done."""
    injector = INJECTORS.get(fault.kind)
    if injector is None:
        raise ValueError(f"{fault.kind} is run as its own comparison, not injected mid-phase")
    t0 = time.monotonic()
    detail = injector(env, fault)
    record = FaultRecord(
        fault.kind.value,
        fault.phase,
        detail,
        time.monotonic() - t0,
        injected=fault.count
        if fault.kind in (FaultKind.POISON_EVENTS, FaultKind.DUPLICATE_DELIVERIES)
        else 1,
    )
    log.info("fault injected", kind=record.kind, phase=record.phase, detail=detail)
    return record
