"""Test a shadow app's handlers without Kafka or PostgreSQL: :class:`ShadowHarness`.

The harness runs the app through the real consumer runtime (the one ``cutover shadow run``
uses: idempotency claims, retries, dead letters, breakers, partition pauses), on an
in-memory broker and a SQLite store in memory::

    from cutover.shadow_testing import ShadowHarness
    from myteam.shadow import app

    def test_a_favorite_is_counted_once() -> None:
        h = ShadowHarness(app)
        eid = h.send("article.favorited", {"article_id": "a1"}, key="a1")
        h.run()
        h.redeliver(eid)
        h.run()
        assert h.query("SELECT n FROM favorites_read") == [{"n": 1}]

Records look as Debezium's Outbox Event Router writes them (payload as the value, the
aggregate id as the key, ``id``/``type``/``correlation_id``/``mode`` headers), on the topic
``outbox.event.<aggregate type>``. SQL runs on SQLite: write statements both SQLite and
PostgreSQL accept (``INSERT ... ON CONFLICT ... DO UPDATE`` does). See
``docs/shadow-sdk.md``.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import literal_column, select

from cutover.shadow import ShadowApp
from events.registry import ContractRegistry
from shadow.app import AppProcessor
from shadow.app_effects import EffectRunner
from shadow.app_store import AppStore
from shadow.dlq import dlq_headers
from shadow.fakes import InMemoryBroker, InMemoryConsumer, InMemoryProducer
from shadow.messages import Headers, RawMessage
from shadow.runtime import RuntimeSettings, ShadowWorker

TOPIC_PREFIX = "outbox.event"


@dataclass(slots=True)
class FakeClock:
    """A monotonic clock that moves only when told: handler timeouts, breakers, pauses."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    """One record the runtime sent to the dead-letter topic, and why."""

    event_id: str | None
    event_type: str | None
    key: str | None
    kind: str
    """``undecodable``, ``unknown_type``, ``schema_invalid`` or ``handler_error``."""
    reason: str
    attempts: int
    error_class: str


@dataclass(slots=True)
class RunReport:
    """What :meth:`ShadowHarness.run` did: records consumed and what became of them."""

    consumed: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    dead_lettered: int = 0

    @property
    def applied(self) -> int:
        return self.statuses.get("done", 0)


class ShadowHarness:
    """One app, one in-memory broker, one SQLite store, the real runtime (see the module).

    ``mode``: the migration mode stamped on events :meth:`send` writes (``""``: none; the
    worker's default mode is ``mode`` or ``dual``). ``contracts``: a contracts directory in
    place of the app's own. ``max_attempts``: handler runs before a dead letter.
    Handler timeouts are judged on :attr:`clock` (a handler "takes" time with
    ``harness.clock.advance``); ``real_timeouts`` also interrupts a handler stuck past its
    timeout with ``SIGALRM``, as ``cutover shadow run`` does (main thread only).
    """

    def __init__(
        self,
        app: ShadowApp,
        *,
        mode: str = "dual",
        contracts: str | Path | None = None,
        partitions: int = 3,
        max_attempts: int = 3,
        batch_size: int = 500,
        real_timeouts: bool = False,
        options: Mapping[str, str] | None = None,
    ) -> None:
        self.app = app
        self.mode = mode
        self.clock = FakeClock()
        directory = contracts if contracts is not None else app.contracts
        registry = ContractRegistry.load(directory) if directory is not None else None
        self._overrides: dict[str, Callable[[str], Any]] = {}
        self.processor = AppProcessor(
            app,
            default_mode=mode or "dual",
            contracts=registry,
            clock=self.clock,
            interrupt=real_timeouts,
            effects=EffectRunner(clock=self.clock, overrides=self._overrides),
            options=options,
        )
        self.store = AppStore.sqlite_memory(app.tables)
        self.store.ensure_schema()
        self.broker = InMemoryBroker(partitions=partitions)
        self.producer = InMemoryProducer(self.broker)
        self.group = f"cutover.shadow.{app.name}"
        self.dlq_topic = f"{self.group}.dlq"
        self._settings = {"max_attempts": max_attempts, "batch_size": batch_size}
        self._topics: set[str] = set(app.topics)
        self._sent: dict[str, tuple[str, bytes, bytes, Headers]] = {}
        self._worker: ShadowWorker | None = None
        self._worker_topics: tuple[str, ...] = ()

    # ------------------------------------------------------------------ input
    def send(
        self,
        event_type: str,
        payload: Mapping[str, Any],
        *,
        key: str,
        mode: str | None = None,
        event_id: str | None = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        aggregate_type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """Publish an event as the Outbox Event Router would; its id. ``mode`` overrides the
        harness's; ``aggregate_type`` (default: the type's first part) names the topic;
        ``headers`` adds or replaces headers (``schema_version``, ...)."""
        eid = event_id or str(uuid.uuid4())
        stamped = self.mode if mode is None else mode
        pairs = {
            "id": eid,
            "type": event_type,
            "correlation_id": correlation_id or str(uuid.uuid4()),
            "causation_id": causation_id or "",
            "mode": stamped,
            **(headers or {}),
        }
        hdrs: Headers = tuple((k, v.encode()) for k, v in pairs.items() if v)
        topic = f"{TOPIC_PREFIX}.{aggregate_type or event_type.split('.', 1)[0]}"
        value = orjson.dumps(payload, default=str)
        self._publish(topic, key.encode(), value, hdrs)
        self._sent[eid] = (topic, key.encode(), value, hdrs)
        return eid

    def send_raw(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Headers = ()
    ) -> RawMessage:
        """Publish a record as is (an undecodable one, a tombstone)."""
        return self._publish(topic, key, value, headers)

    def _publish(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Headers
    ) -> RawMessage:
        self._topics.add(topic)
        return self.broker.append(topic, key, value, headers)

    def redeliver(self, event_id: str) -> None:
        """Deliver a sent event again (a duplicate, as after a rebalance or a replay)."""
        topic, key, value, hdrs = self._sent[event_id]
        self._publish(topic, key, value, hdrs)

    def replay_all(self) -> None:
        """Rewind the app's consumer group to the start of every partition (a replay)."""
        self._stop_worker()
        for tp in list(self.broker.logs):
            self.broker.committed[(self.group, tp)] = 0

    # -------------------------------------------------------------------- run
    def run(self, max_steps: int = 10_000) -> RunReport:
        """Step the worker until a step consumes nothing; what it did."""
        worker = self._current_worker()
        report = RunReport()
        for _ in range(max_steps):
            step = worker.step()
            report.consumed += step.consumed
            report.statuses.update(step.statuses)
            report.dead_lettered += step.dead_lettered
            if not step.consumed:
                break
        worker.consumer.commit()
        return report

    def _current_worker(self) -> ShadowWorker:
        topics = tuple(sorted(self._topics))
        if self._worker is not None and topics == self._worker_topics:
            return self._worker
        self._stop_worker()
        settings = RuntimeSettings(
            topics, self.dlq_topic, batch_timeout=0.0, backoff_base=0.0, **self._settings
        )
        worker = ShadowWorker(
            InMemoryConsumer(self.broker, self.group),
            self.producer,
            self.store,
            self.processor,
            settings,
            sleep=lambda _s: None,
            clock=self.clock,
        )
        worker.start()
        self._worker, self._worker_topics = worker, topics
        return worker

    def _stop_worker(self) -> None:
        if self._worker is not None:
            self._worker.consumer.commit()
            self._worker = None

    def on_effect(self, name: str, perform: Callable[[str], Any]) -> None:
        """Call ``perform(idempotency_key)`` for the effect ``name`` instead of the handler's
        own ``perform`` (in ``async``/``events-only`` events)."""
        self._overrides[name] = perform

    # ----------------------------------------------------------------- output
    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Rows of a query on the store (the app's tables and the runtime's)."""
        return self.store.query(sql, params)

    def effects(self) -> list[dict[str, Any]]:
        """Every effect row, in the order written: event_id, name, mode, outcome (recorded,
        performed, rejected), request, result."""
        t = self.store.tables.effects
        cols = [t.c.event_id, t.c.name, t.c.mode, t.c.outcome, t.c.request, t.c.result]
        return self._rows(select(*cols).order_by(literal_column("rowid")))

    def emitted(self) -> list[dict[str, Any]]:
        """Every follow-up event in the shadow outbox, in the order written."""
        t = self.store.tables.outbox
        cols = [
            t.c.id, t.c.aggregatetype, t.c.aggregateid, t.c.type, t.c.payload,
            t.c.correlation_id, t.c.causation_id, t.c.mode,
        ]  # fmt: skip
        rows = self._rows(select(*cols).order_by(literal_column("rowid")))
        return [{**r, "id": str(r["id"])} for r in rows]

    def _rows(self, query: Any) -> list[dict[str, Any]]:
        with self.store.transaction() as tx:
            return [dict(r) for r in tx.connection.execute(query).mappings()]

    def dead_letters(self) -> list[DeadLetterRecord]:
        """Every dead-lettered record, with its reason."""
        out = []
        for msg in self.broker.records(self.dlq_topic):
            d = dlq_headers(msg)
            out.append(
                DeadLetterRecord(
                    msg.header("id"),
                    msg.header("type"),
                    msg.key_text,
                    d.get("dlq.error.kind", ""),
                    d.get("dlq.error.message", ""),
                    int(d.get("dlq.attempts", "0") or 0),
                    d.get("dlq.error.class", ""),
                )
            )
        return out

    def performed_calls(self) -> int:
        """How many times an effect's ``perform`` (or its override) was actually called."""
        return self.processor.effects.calls


__all__ = ["DeadLetterRecord", "FakeClock", "RunReport", "ShadowHarness"]
