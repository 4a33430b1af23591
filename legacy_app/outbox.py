"""Events of the order service: the transactional outbox writer and the naive producer.

* :func:`add_to_outbox` adds an outbox row to the caller's session through
  ``cutover.emit``, so it commits (or not) together with the order — the ``dual`` mode —
  stamped with the ``order`` context's write-time mode (:func:`outbox_for`).
* :class:`KafkaPublisher` produces straight to Kafka *after* the commit — the
  ``naive-dual`` anti-pattern, to the topic the outbox router would use, in
  the router's message shape. Its fault hook (``CUTOVER_FAULT_CRASH_BEFORE_PRODUCE``)
  kills the process between commit and produce so rehearsals show the loss. It is the
  sample's own code: cutover offers no post-commit produce.

Every event carries its order's version (``aggregate_version``): the outbox
column, and the header of the same name on Kafka — the router copies the
column, the naive producer writes the same bytes (``b"1"``, ``b"2"``).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import structlog
from sqlalchemy import update
from sqlalchemy.orm import Session

import cutover
from events.envelope import Envelope
from legacy_app.contracts.domain import OrderCompleted, OrderCreated, OrderFailed
from legacy_app.models import Order
from legacy_app.modes import ModeSource

log = structlog.get_logger(__name__)

AGGREGATE_TYPE = "order"
CONTEXT = "order"  # the bounded context whose mode is stamped on the rows
SOURCE = "/legacy/order-service"


def envelope_for(
    payload: OrderCreated | OrderCompleted | OrderFailed,
    *,
    correlation_id: str,
    causation_id: str | None,
) -> Envelope:
    """Wrap a domain event of the order service with the request's correlation id."""
    return Envelope.of(
        payload, source=SOURCE, correlation_id=correlation_id, causation_id=causation_id
    )


def advance_order(session: Session, order_id: str, **changes: object) -> int:
    """Apply ``changes`` to the order row and bump its version, in one UPDATE; the new version.

    The UPDATE takes the row lock until the transaction ends, so concurrent writers
    of one order get consecutive versions, never the same one, and commit in
    version order (Debezium then reads their outbox rows in that order).
    Raises ``sqlalchemy.exc.NoResultFound`` when there is no such order.
    """
    bumped = session.execute(
        update(Order)
        .where(Order.id == order_id)
        .values(version=Order.version + 1, **changes)
        .returning(Order.version)
    )
    return int(bumped.scalar_one())


def outbox_for(modes: ModeSource | None = None) -> cutover.Outbox:
    """The service's outbox (the default Debezium layout, ``public.outbox``) stamping the
    ``order`` context's mode from ``modes`` on each row (no stamp without one)."""
    if modes is None:
        return cutover.Outbox()
    return cutover.Outbox(mode=lambda: modes.mode(CONTEXT).value)


def add_to_outbox(
    session: Session, envelope: Envelope, *, outbox: cutover.Outbox | None = None
) -> Envelope:
    """Add the outbox row of ``envelope`` to ``session``'s transaction (``cutover.emit``);
    returns the envelope under the row's event id (the ``id`` header on Kafka).

    The envelope must carry its order's version (:meth:`Envelope.with_aggregate_version`).
    """
    if envelope.aggregate_version is None:
        raise ValueError(f"outbox event {envelope.id} ({envelope.type}) has no aggregate version")
    event_id = cutover.emit(
        session,
        AGGREGATE_TYPE,
        envelope.subject or "",
        envelope.type,
        envelope.data,
        aggregate_version=envelope.aggregate_version,
        correlation_id=envelope.correlation_id,
        causation_id=envelope.causation_id,
        outbox=outbox or _OUTBOX,
    )
    return replace(envelope, id=str(event_id))


_OUTBOX = outbox_for()


def topic_for(prefix: str, aggregate_type: str = AGGREGATE_TYPE) -> str:
    """The topic the outbox event router routes ``aggregate_type`` to."""
    return f"{prefix}.{aggregate_type}"


class Publisher(Protocol):
    """Port: publish an event after the commit (``naive-dual`` only)."""

    def publish(self, envelope: Envelope) -> None: ...


@dataclass
class MemoryPublisher:
    """In-memory :class:`Publisher` for unit tests."""

    published: list[Envelope] = field(default_factory=list)

    def publish(self, envelope: Envelope) -> None:
        self.published.append(envelope)


def crash_hook(
    probability: float, *, rng: Callable[[], float] = random.random
) -> Callable[[], None]:
    """A hook that kills the process with ``probability`` (called between commit and produce)."""

    def hook() -> None:
        if probability > 0 and rng() < probability:
            log.error("fault_crash_before_produce", probability=probability)
            os._exit(17)

    return hook


class KafkaPublisher:
    """confluent-kafka producer shaped like the outbox router: key, JSON value, id/type/...
    headers including ``aggregate_version``."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        *,
        before_produce: Callable[[], None] = lambda: None,
        producer: Any = None,
    ) -> None:
        if producer is None:
            from confluent_kafka import Producer

            producer = Producer(
                {"bootstrap.servers": bootstrap_servers, "linger.ms": 5, "enable.idempotence": True}
            )
        self._producer = producer
        self.topic = topic
        self._before_produce = before_produce

    def publish(self, envelope: Envelope) -> None:
        self._before_produce()
        key, value, headers = envelope.to_kafka_message()
        self._producer.produce(
            self.topic, key=key, value=value, headers=headers, on_delivery=_delivered
        )
        self._producer.poll(0)

    def flush(self, timeout: float = 10.0) -> int:
        """Deliver what is buffered (at shutdown); returns the number still undelivered."""
        return int(self._producer.flush(timeout))


def _delivered(err: Any, msg: Any) -> None:
    if err is not None:
        log.error("naive_produce_failed", error=str(err), topic=msg.topic() if msg else None)
