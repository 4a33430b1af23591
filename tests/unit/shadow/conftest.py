from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from legacy_app.orderflow.catalogue import initial_stock
from legacy_app.orderflow.domain import Order
from legacy_app.orderflow.effects import RecordingEffects
from legacy_app.orderflow.processors import Coordination, FlowProcessor
from legacy_app.orderflow.samples import order_payload, outbox_headers, outbox_value
from legacy_app.orderflow.store_memory import InMemoryStore, MemoryStoreTx
from shadow.errors import CircuitOpenError
from shadow.fakes import InMemoryBroker, InMemoryConsumer, InMemoryProducer
from shadow.messages import InboundEvent, RawMessage
from shadow.plugin import Processor
from shadow.runtime import RuntimeSettings, ShadowWorker

TOPIC = "outbox.event.order"
DLQ = "shadow-test.dlq"


@pytest.fixture
def broker() -> InMemoryBroker:
    return InMemoryBroker(partitions=3)


@pytest.fixture
def store() -> InMemoryStore:
    s = InMemoryStore()
    s.ensure_schema(initial_stock())
    return s


def publish(
    broker: InMemoryBroker,
    payload: dict[str, Any],
    *,
    event_id: str | None = None,
    correlation_id: str = "corr-1",
    event_type: str = "order.created",
    extra_headers: tuple[tuple[str, bytes], ...] = (),
) -> RawMessage:
    eid = event_id or str(uuid.uuid4())
    headers = outbox_headers(eid, event_type, correlation_id) + extra_headers
    return broker.append(TOPIC, payload["order_id"].encode(), outbox_value(payload), headers)


class PatchedTxStore(InMemoryStore):
    """An in-memory store whose every transaction goes through :meth:`patch` first (tests
    replace a method of the transaction there to inject a failure)."""

    last_tx: MemoryStoreTx | None = None

    def patch(self, tx: MemoryStoreTx) -> None:
        """Change ``tx`` before the worker uses it."""

    @contextmanager
    def transaction(self) -> Iterator[MemoryStoreTx]:
        with super().transaction() as tx:
            self.patch(tx)
            self.last_tx = tx
            yield tx


def worker_on(
    broker: InMemoryBroker,
    store: InMemoryStore,
    *,
    writer: InMemoryStore | None = None,
    **settings: Any,
) -> ShadowWorker:
    """A started flow worker of group ``g1`` on ``store`` (written behind on ``writer``)."""
    worker = ShadowWorker(
        InMemoryConsumer(broker, "g1"),
        InMemoryProducer(broker),
        store,
        FlowProcessor(RecordingEffects()),
        RuntimeSettings((TOPIC,), DLQ, backoff_base=0.0, **settings),
        sleep=lambda _s: None,
        writer=writer,
    )  # fmt: skip
    worker.start()
    return worker


WorkerFactory = Callable[..., ShadowWorker]


@pytest.fixture
def make_worker(broker: InMemoryBroker, store: InMemoryStore) -> WorkerFactory:
    def factory(
        processor: Processor | None = None,
        *,
        group: str = "g1",
        sleep: Any = None,
        clock: Any = None,
        writer: Any = None,
        producer: InMemoryProducer | None = None,
        **settings: Any,
    ) -> ShadowWorker:
        proc = processor or FlowProcessor(
            RecordingEffects(), coordination=Coordination.CHOREOGRAPHY
        )
        cfg = RuntimeSettings(topics=(TOPIC,), dlq_topic=DLQ, backoff_base=0.0, **settings)
        kwargs: dict[str, Any] = {"sleep": sleep or (lambda _s: None), "writer": writer}
        if clock is not None:
            kwargs["clock"] = clock
        worker = ShadowWorker(
            InMemoryConsumer(broker, group),
            producer or InMemoryProducer(broker),
            store,
            proc,
            cfg,
            **kwargs,
        )
        worker.start()
        return worker

    return factory


__all__ = ["DLQ", "TOPIC", "order_payload", "publish"]


class Flaky(FlowProcessor):
    """The flow, with a downstream whose circuit is open (for 2 s) for the ``blocked`` order."""

    def __init__(self, blocked: str) -> None:
        super().__init__(RecordingEffects())
        self.blocked = blocked

    def apply(
        self, event: InboundEvent, parsed: object, changes: Any, batch: Any, scope: object
    ) -> None:
        assert isinstance(parsed, Order)
        order = parsed
        if order.order_id == self.blocked:
            raise CircuitOpenError("payment", 2.0)
        super().apply(event, parsed, changes, batch, scope)
