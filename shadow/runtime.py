"""The consumer runtime: batched, at-least-once, idempotent, ordered per key.

One :meth:`ShadowWorker.step`:

1. ``consume(batch_size, timeout)`` — a batch of records from the assigned partitions;
2. decode each record; tombstones and snapshot records are counted and skipped,
   undecodable / unknown-type / schema-invalid records become dead letters;
3. one shadow-store transaction for the whole batch: events this consumer
   already applied are skipped (idempotency: ``processed_events`` row written
   with the effect), every other event runs through the processor into its own
   change buffer — a failing event is retried, then dead-lettered, without
   touching its neighbours — and the merged buffer is written in bulk. If the
   bulk write itself is refused, the batch is redone with a savepoint per event
   so only the bad one is dead-lettered;
4. dead letters are produced (``poll(0)``; one ``flush`` only when the batch had any;
   :mod:`shadow.dlq_send`): one too large for the dead-letter topic keeps its whole original
   as a claim check in the shadow store and goes cut; one that cannot be produced at all
   (the topic is missing, the broker unreachable) defers its record and its partition is
   reported stuck (:mod:`shadow.stuck`) until it goes — no record stops the worker;
5. offsets are stored (``store_offsets``) only now, after the commit; the
   consumer commits stored offsets periodically, on revocation and at shutdown.

The runtime knows no domain: what a batch reads and writes is the processor's
(:mod:`shadow.plugin`).

Write-behind (when the worker has a second store, ``writer``): step 3 is split. The handlers
of batch N+1 run while batch N's rows are still being written on the writer's connection by a
background thread, so Python's work and PostgreSQL's overlap. The processor reads what its
handlers need without locks (it may cache what the worker itself wrote); the write locks it
and the processor confirms it still holds what the handlers started from. Anything
unexpected — another worker changed that state, the write was refused or conflicted, the
store went away, a partition got paused while N settled — rolls that write back, redoes
batch N the serial way, makes the processor forget its caches and redoes batch N+1 serially
too. Only for events whose handlers may run again (``Processor.replayable``: effects
recorded, ``dual`` mode); a batch holding any other event is applied serially. For the same reason the handlers of a batch written behind record straight
into one buffer for the whole batch; if one raises, the batch's handlers run again the
usual way, each event into its own buffer, so only the failing one is retried or
dead-lettered.

Per-key ordering: records of one partition are handled in offset order, and when
an event cannot be handled now (a downstream's circuit is open, a transient
error persists) its partition is paused and rewound to that event; later
records of that partition wait, other partitions go on. It resumes when the
breaker allows a probe.
"""

from __future__ import annotations

import gc
import sys
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from shadow.anomalies import AnomalyCounts, sequence_anomalies
from shadow.batch import BatchReport, Blocked, Item, classify, mark_batch_duplicates, plan_offsets
from shadow.dlq import DeadLetter
from shadow.dlq_payloads import DeadLetterPayloads
from shadow.dlq_send import DEFAULT_MAX_BYTES, Coordinates, DeadLetterSender
from shadow.errors import CircuitOpenError, PoisonMessageError, ShadowError, TransientError
from shadow.messages import InboundEvent, RawMessage, event_time
from shadow.metrics import Metrics, observe_many
from shadow.plugin import ProcessedRow, Processor
from shadow.ports import TP, ConsumerPort, ProducerPort
from shadow.store import (
    AlreadyProcessedError,
    ShadowStore,
    StoreTx,
    StoreUnavailableError,
    StoreWriteError,
)
from shadow.stuck import Stuck, StuckPartitions

Snapshot = list[tuple[str, PoisonMessageError | None, int]]
"""Each item's (status, poison, attempts) before the store transaction: what a redo restarts from."""

log = structlog.get_logger(__name__)


GC_GEN0_THRESHOLD = 50_000


def tune_gc() -> None:
    """Tune Python's cyclic garbage collector for a worker process (``run_worker`` calls it).

    A batch allocates tens of thousands of short-lived objects (records, events, rows) that
    reference counting frees anyway; with the default thresholds (700 allocations) they
    trigger thousands of collections per batch and repeated full ones over everything alive,
    about a fifth of a worker's CPU in ``bench/bench_shadow.py``. Freezing the start-up heap
    and collecting the young generation every 50,000 allocations keeps the collector for
    what it is for (reference cycles) at a fraction of the cost.
    """
    gc.collect()
    gc.freeze()
    _gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)


SWITCH_INTERVAL = 0.0005


def tune_switch_interval() -> None:
    """Let a waiting thread take the GIL after 0.5 ms instead of 5 ms (for write-behind).

    The writer thread gives the GIL up at each round trip to PostgreSQL (a batch's write has a
    few dozen) and needs it back as soon as the answer comes; with the default interval it
    waits up to 5 ms each time for the handler thread, which never blocks, and the write
    becomes the bottleneck (measured in ``bench/bench_shadow.py``: write-behind 0.9x of
    serial at 5 ms, 1.4x at 0.5 ms).
    """
    sys.setswitchinterval(SWITCH_INTERVAL)


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    """Knobs of one worker."""

    topics: tuple[str, ...]
    dlq_topic: str
    batch_size: int = 1000
    batch_timeout: float = 0.5
    max_attempts: int = 3
    transient_attempts: int = 3
    backoff_base: float = 0.05
    backoff_cap: float = 2.0
    pause_seconds: float = 5.0
    lag_interval: float = 5.0
    dlq_flush_timeout: float = 30.0
    max_batch_redo: int = 5
    dlq_max_bytes: int = DEFAULT_MAX_BYTES
    """A dead letter larger than this (key, value, headers) goes with its value cut and its
    whole original as a claim check in the shadow store."""

    def backoff(self, attempt: int) -> float:
        return float(min(self.backoff_cap, self.backoff_base * (2 ** max(0, attempt - 1))))


@dataclass(slots=True)
class _Prepared:
    """A batch whose handlers ran (write-behind): what its write needs and what a redo needs."""

    items: list[Item]
    base_counts: AnomalyCounts  # anomalies before the claim check (a serial redo starts here)
    before: Snapshot
    counts: AnomalyCounts = field(default_factory=Counter)
    batch: Any = None  # the processor's buffer of the batch
    encoded: object = None  # batch, encoded by the store while the previous batch is written
    expected: Mapping[str, Any] = field(default_factory=dict)  # what the handlers started from
    blocked: Blocked = field(default_factory=dict)  # plan_offsets after the handlers
    started: float = 0.0

    @property
    def event_ids(self) -> set[str]:
        return {r.event_id for r in self.batch.processed}

    @property
    def paused(self) -> dict[TP, int]:
        """Partitions paused after the handlers ran, at the offset to read again."""
        return {tp: offset for tp, (offset, _secs) in self.blocked.items()}


class ShadowWorker:
    """One consumer in a group, applying a :class:`Processor` to the shadow store.

    With ``writer`` (a second store, its own connection) batches are written behind: see the
    module docstring. Only for processors that record their effects instead of performing them.
    """

    def __init__(
        self,
        consumer: ConsumerPort,
        producer: ProducerPort,
        store: ShadowStore,
        processor: Processor,
        settings: RuntimeSettings,
        *,
        metrics: Metrics | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        writer: ShadowStore | None = None,
        payloads: DeadLetterPayloads | None = None,
    ) -> None:
        self.consumer = consumer
        self.producer = producer
        self.dead_letters = DeadLetterSender(
            producer, settings.dlq_topic, payloads=payloads,
            max_bytes=settings.dlq_max_bytes, flush_timeout=settings.dlq_flush_timeout,
        )  # fmt: skip
        self.stuck = StuckPartitions()
        self.store = store
        self.writer = writer
        self._executor = (
            ThreadPoolExecutor(1, thread_name_prefix="shadow-writer") if writer else None
        )
        self._inflight: tuple[_Prepared, Future[None]] | None = None
        self.redone_behind = 0  # write-behind batches redone serially (the bench reports it)
        self.processor = processor
        self._known = (
            None
            if processor.known_types is None
            else (processor.known_types | processor.entry_types)
        )
        self.settings = settings
        self.metrics = metrics or Metrics()
        self._sleep = sleep
        self._clock = clock
        self._paused: dict[TP, float] = {}  # partition -> monotonic time to resume
        self._rewind: dict[TP, int] = {}  # paused partition -> offset to read again on resume
        self._stored: dict[TP, int] = {}  # last offset stored per partition
        self._next_lag = 0.0
        self.stop_requested = False
        self._latency = self.metrics.latency.labels(processor.name)
        self._should_stop: Callable[[], bool] = lambda: self.stop_requested

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self.consumer.subscribe(list(self.settings.topics), self._on_assign, self._on_revoke)

    def _on_assign(self, tps: Sequence[TP]) -> None:
        self.processor.forget()  # the group changed: other workers may have moved state
        for tp in tps:
            self._paused.pop(tp, None)
            self._rewind.pop(tp, None)
            self._stored.pop(tp, None)
        log.info("partitions_assigned", partitions=[f"{t}[{p}]" for t, p in tps])

    def _on_revoke(self, tps: Sequence[TP]) -> None:
        self._drain(BatchReport())  # the batch being written stores its offsets first
        self.processor.forget()
        self.consumer.commit()
        for tp in tps:
            self._paused.pop(tp, None)
            self._rewind.pop(tp, None)
        for state in self.stuck.forget(tps):
            self._unstuck(state, "revoked")
        log.info("partitions_revoked", partitions=[f"{t}[{p}]" for t, p in tps])

    def run(self, should_stop: Callable[[], bool], *, idle_stop: float | None = None) -> None:
        """Step until ``should_stop()`` (or ``idle_stop`` seconds without records), then close."""
        idle_since = self._clock()
        try:
            self._should_stop = lambda: should_stop() or self.stop_requested
            while not self._should_stop():
                report = self.step()
                if report.consumed:
                    idle_since = self._clock()
                elif idle_stop is not None and self._clock() - idle_since >= idle_stop:
                    break
        finally:
            self.close()

    def close(self) -> None:
        """Finish the batch being written, deliver dead letters, commit offsets, leave the group."""
        try:
            self._drain(BatchReport())
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
            self.producer.flush(self.settings.dlq_flush_timeout)
            try:
                self.consumer.commit()
            finally:
                self.consumer.close()
                self.store.close()
                if self.writer is not None:
                    self.writer.close()
                if self.dead_letters.payloads is not None:
                    self.dead_letters.payloads.close()
        log.info("worker_closed", processor=self.processor.name)

    # ----------------------------------------------------------------- step
    def step(self) -> BatchReport:
        """Consume one batch and apply it (see the module docstring).

        The report counts what this step consumed, and the statuses of the batches it settled
        (committed, offsets stored): with write-behind, the one written behind this batch.
        """
        self._resume_due()
        msgs = self.consumer.consume(self.settings.batch_size, self.settings.batch_timeout)
        self.producer.poll(0)
        report = BatchReport(consumed=len(msgs))
        if msgs:
            started = time.perf_counter()
            self._handle(msgs, report, started)
        else:
            self._drain(report)  # nothing is being written past the positions stored below
            self._store_idle_positions()
        self._update_lag()
        return report

    def _handle(self, msgs: list[RawMessage], report: BatchReport, started: float) -> None:
        counts: AnomalyCounts = Counter()
        items = [classify(m, self.processor, counts, self._paused, self._known) for m in msgs]
        for topic, n in Counter(m.topic for m in msgs).items():
            self.metrics.inc_consumed(topic, n)
        mark_batch_duplicates(items, counts)
        before = _snapshot(items)
        if self._executor is None or not self._replayable(items):
            if self._drain(report):
                self._settle(self._transact(items, counts, before), report, started)
            else:
                self._redo_serially(_Prepared(items, counts, before, started=started), report,
                                    "previous_batch")  # fmt: skip
            return
        prepared = self._prepare(items, counts, before, started)
        clean = self._drain(report)
        if prepared is None or not clean:
            reason = "store_unreadable" if prepared is None else "previous_batch"
            self._redo_serially(
                prepared or _Prepared(items, counts, before, started=started), report, reason
            )
            return
        self._inflight = (prepared, self._executor.submit(self._write_behind, prepared))

    def _replayable(self, items: list[Item]) -> bool:
        """Whether every event of the batch may be handled again (write-behind allowed)."""
        replayable = self.processor.replayable
        return all(it.event is None or replayable(it.event) for it in items)

    def _settle(
        self,
        items: list[Item],
        report: BatchReport,
        started: float,
        paused: Mapping[TP, int] | None = None,
    ) -> bool:
        """After the commit: dead letters, offsets, pauses, metrics. False when a partition had
        to be paused (or rewound) other than as ``paused`` already did when the handlers ran:
        a batch read since then may hold its later records."""  # fmt: skip
        paused = paused or {}
        letters = [self._letter(it) for it in items if it.status == "poison"]
        undelivered = self._send_dead_letters(letters, items)
        # planned now, not reused from before: an undeliverable dead letter defers its record
        offsets, blocked = plan_offsets(items, self.settings.pause_seconds)
        self.consumer.store_offsets(offsets)
        self._stored.update(offsets)
        for state in self.stuck.passed(offsets):
            self._unstuck(state, "moved_on")
        for tp, (offset, _secs) in blocked.items():
            if (reason := undelivered.get((*tp, offset))) is not None:
                self._stuck(tp, offset, reason)
        fresh = {tp: b for tp, b in blocked.items() if paused.get(tp) != b[0]}
        self._pause(fresh)
        statuses = Counter(it.status for it in items)
        report.statuses.update(statuses)
        report.dead_lettered += len(letters) - len(undelivered)
        report.paused.extend(blocked)
        for status, n in statuses.items():
            if status in ("ignored", "duplicate", "skipped", "held"):
                self.metrics.skipped.labels(status).inc(n)
        self.metrics.processed.labels(self.processor.name).inc(statuses.get("done", 0))
        self.metrics.batch_seconds.observe(time.perf_counter() - started)
        return not fresh

    # ---------------------------------------------------------- write-behind
    def _prepare(
        self, items: list[Item], base_counts: AnomalyCounts, before: Snapshot, started: float
    ) -> _Prepared | None:
        """Run the handlers of a batch while the previous one is being written.

        Claim check and stock without locks on the main connection; events of the batch
        being written count as done; stock of SKUs the worker has written comes from its
        cache. None when the store cannot be read now (the serial path retries).
        """
        p = _Prepared(items, base_counts, before, Counter(base_counts), started=started)
        name = self.processor.name
        todo = [it for it in items if it.status == "pending"]
        writing = self._inflight[0].event_ids if self._inflight else set()
        check = [it.event.event_id for it in todo if it.event and it.event.event_id not in writing]
        if not todo:  # nothing to handle: no transaction at all
            p.batch = self.processor.new_buffer()
        else:
            try:
                with self.store.transaction() as tx:
                    done = set(writing) | (tx.processed_ids(name, check) if check else set())
                    todo = _skip_done(todo, done, p.counts)
                    scope = self.processor.begin(tx, _pairs(todo), locked=False)
            except (StoreUnavailableError, StoreWriteError) as exc:
                log.warning("write_behind_read_failed", cause=exc.cause)
                return None
            p.expected = self.processor.expectation(scope)
            direct = self._run_direct(todo, scope)
            p.batch = direct if direct is not None else self._run_handlers(todo, scope)
            self.processor.remember(scope, p.batch)
        p.encoded = self.store.encode(p.batch)
        _stored, p.blocked = plan_offsets(items, self.settings.pause_seconds)
        self._pause(p.blocked)  # before the next consume, as the serial path does
        return p

    def _write_behind(self, p: _Prepared) -> None:
        """The writer thread: one transaction on the writer's connection."""
        assert self.writer is not None
        counts: AnomalyCounts = Counter(p.counts)
        with self.writer.transaction() as tx:
            self.processor.confirm(tx, p.expected)
            self._sequence_checks(tx, p.items, counts, p.blocked)
            tx.add_anomalies(counts)
            tx.apply_encoded(p.encoded)  # a key that exists after all: the serial redo merges it

    def _drain(self, report: BatchReport) -> bool:
        """Wait for the batch being written and settle it; if its write failed, redo it the
        serial way. True when it went as planned (the batch read since may go on)."""
        if self._inflight is None:
            return True
        p, future = self._inflight
        self._inflight = None
        try:
            future.result()
        except (ShadowError, OSError) as exc:
            log.warning(
                "write_behind_redo", error=type(exc).__name__, reason=str(exc)[:300],
                events=len(p.batch.processed),
            )  # fmt: skip
            self._redo_serially(p, report, type(exc).__name__)
            return False
        return self._settle(p.items, report, p.started, p.paused)

    def _redo_serially(self, p: _Prepared, report: BatchReport, reason: str) -> None:
        """Make the processor forget its caches and apply the batch the serial way, from its state before the
        claim check. Records of a partition paused since they were read (other than by this
        batch's own handlers) wait for the resume ("held")."""
        self.redone_behind += 1
        self.metrics.redone.labels(reason).inc()
        self.processor.forget()
        own_pauses = p.paused
        for it, (status, poison, attempts) in zip(p.items, p.before, strict=True):
            it.status, it.poison, it.attempts = status, poison, attempts
            tp = it.tp
            if tp in self._paused and self._rewind.get(tp) != own_pauses.get(tp, -1):
                it.status = "held"
        final = self._transact(p.items, p.base_counts, _snapshot(p.items))
        self._settle(final, report, p.started, own_pauses)

    # ---------------------------------------------------------- transaction
    def _transact(self, items: list[Item], counts: AnomalyCounts, before: Snapshot) -> list[Item]:
        safe = False
        redo = 0
        while True:
            for it, (status, poison, attempts) in zip(items, before, strict=True):
                it.status, it.poison, it.attempts, it.retry_after = status, poison, attempts, 0.0
            trial_counts: AnomalyCounts = Counter(counts)
            try:
                with self.store.transaction() as tx:
                    self._apply_batch(tx, items, trial_counts, safe=safe)
                return items
            except AlreadyProcessedError as exc:
                redo += 1
                log.warning("batch_redo_already_processed", events=len(exc.event_ids), redo=redo)
            except StoreWriteError as exc:
                if safe:
                    raise
                safe = True
                log.warning("batch_write_refused_retry_per_event", cause=exc.cause, error=str(exc))
            except StoreUnavailableError as exc:
                redo += 1
                log.warning("store_unavailable_retry", cause=exc.cause, redo=redo)
                self._sleep(self.settings.backoff(redo))
                if self._should_stop():
                    raise
                continue
            if redo > self.settings.max_batch_redo and not safe:
                safe = True

    def _apply_batch(
        self, tx: StoreTx, items: list[Item], counts: AnomalyCounts, *, safe: bool
    ) -> None:
        name = self.processor.name
        todo = [it for it in items if it.status == "pending"]
        done_before = tx.processed_ids(name, [it.event.event_id for it in todo if it.event])
        todo = _skip_done(todo, done_before, counts)
        scope = self.processor.begin(tx, _pairs(todo), locked=True)
        batch = self._run_handlers(
            todo, scope, (lambda it, ch: self._apply_one(tx, it, ch)) if safe else None
        )
        self._sequence_checks(tx, items, counts)
        tx.add_anomalies(counts)
        if not safe:
            tx.apply(batch)

    def _run_direct(self, todo: list[Item], scope: object) -> Any:
        """Record every event straight into one buffer for the batch (write-behind only, where
        effects are recorded, so running a handler twice is harmless).

        The usual path (:meth:`_run_handlers`) gives each event a buffer of its own and merges
        it, so that a failing event leaves nothing behind; here nothing fails in the common
        case, and when a handler raises the items are put back as they were and None tells
        the caller to take the usual path, which retries, defers or dead-letters that event.
        """
        batch = self.processor.new_buffer()
        empty = self.processor.new_buffer()  # the batch is each event's buffer too
        now = datetime.now(UTC)
        apply = self.processor.apply
        latencies: list[float] = []
        for it in todo:
            ev = it.event
            assert ev is not None
            started = time.perf_counter()
            try:
                apply(ev, it.parsed, batch, empty, scope)
            except Exception as exc:  # the usual path handles it for real
                log.info("direct_recording_fell_back", error=type(exc).__name__,
                         event_id=ev.event_id)  # fmt: skip
                for done in todo:
                    if done.status == "done":
                        done.status, done.attempts = "pending", done.attempts - 1
                return None
            latencies.append(time.perf_counter() - started)
            batch.processed.append(self._processed_row(ev, now))
            it.attempts += 1
            it.status = "done"
        observe_many(self._latency, latencies)
        return batch

    def _run_handlers(
        self,
        todo: Iterable[Item],
        scope: object,
        apply_one: Callable[[Item, Any], bool] | None = None,
    ) -> Any:
        """Run the processor on each pending item, in order; the merged changes of the done
        ones. A deferred item defers the rest of its partition."""
        batch = self.processor.new_buffer()
        now = datetime.now(UTC)
        blocked: set[TP] = set()
        latencies: list[float] = []  # handler time per event, observed once per batch
        try:
            for it in todo:
                if it.tp in blocked:
                    it.status = "deferred"
                    continue
                changes = self._run_one(it, batch, scope, now, latencies)
                if changes is None:
                    if it.status == "deferred":
                        blocked.add(it.tp)
                    continue
                if apply_one is not None and not apply_one(it, changes):
                    continue
                batch.merge(changes)
                it.status = "done"
        finally:
            observe_many(self._latency, latencies)
        return batch

    def _sequence_checks(
        self,
        tx: StoreTx,
        items: list[Item],
        counts: AnomalyCounts,
        blocked: Blocked | None = None,
    ) -> None:
        """Gaps and reorders per aggregate, among the events this batch settles for good
        (``blocked``: :func:`plan_offsets` of ``items`` as they are, when already known).

        Every event of the topic counts, taken or ignored by the processor (a lost
        ``order.completed`` is a gap too); redeliveries (duplicates) do not, and neither
        do events that will be read again — deferred ones and whatever follows them in
        their partition — so a rewind never looks like a reorder. The last sequence seen
        is kept per consumer: groups sharing a store do not judge each other's progress.
        """
        if blocked is None:
            _stored, blocked = plan_offsets(items, self.settings.pause_seconds)
        blocked_at = {tp: offset for tp, (offset, _secs) in blocked.items()}
        by_context: dict[str, list[InboundEvent]] = {}
        for it in items:
            ev = it.event
            if (
                ev is not None
                and ev.sequence is not None
                and it.status in ("done", "ignored")
                and it.msg.offset < blocked_at.get(it.tp, 1 << 62)
            ):
                by_context.setdefault(ev.context, []).append(ev)
        name = self.processor.name
        for context, events in by_context.items():
            last = tx.last_sequences(name, context, {e.aggregate_id for e in events})
            found, high = sequence_anomalies(events, last)
            counts.update(found)
            tx.set_sequences(name, context, high)

    def _run_one(
        self,
        it: Item,
        batch: Any,
        scope: object,
        now: datetime,
        latencies: list[float],
    ) -> Any:
        """Run the processor on one event with retries; its changes, or None (poison/deferred).
        The handler time of a success goes to ``latencies``."""
        assert it.event is not None
        ev = it.event
        transient = 0
        while True:
            it.attempts += 1
            changes = self.processor.new_buffer()
            started = time.perf_counter()
            try:
                self.processor.apply(ev, it.parsed, changes, batch, scope)
            except CircuitOpenError as exc:
                self._defer(it, exc.service or "?", exc.retry_after, str(exc))
                return None
            except TransientError as exc:
                transient += 1
                self.metrics.failed.labels("transient").inc()
                if transient >= self.settings.transient_attempts:
                    self._defer(it, exc.service or "?", self.settings.pause_seconds, str(exc))
                    return None
                self._sleep(self.settings.backoff(transient))
                continue
            except PoisonMessageError as exc:
                it.status, it.poison = "poison", exc
                return None
            except Exception as exc:  # a handler bug: retry, then dead-letter
                self.metrics.failed.labels("handler_error").inc()
                log.warning(
                    "handler_failed", error=repr(exc)[:300], attempt=it.attempts,
                    event_id=ev.event_id, correlation_id=ev.correlation_id,
                    order_id=ev.aggregate_id,
                )  # fmt: skip
                if it.attempts >= self.settings.max_attempts:
                    it.status = "poison"
                    it.poison = PoisonMessageError(
                        "handler_error", repr(exc)[:500], error_class=type(exc).__name__
                    )
                    return None
                self._sleep(self.settings.backoff(it.attempts))
                continue
            latencies.append(time.perf_counter() - started)
            changes.processed.append(self._processed_row(ev, now))
            return changes

    def _processed_row(self, ev: InboundEvent, now: datetime) -> ProcessedRow:
        """The idempotency row of an applied event (its record's time, else the batch's)."""
        ts = event_time(ev.timestamp_ms) if ev.timestamp_ms else now
        return ProcessedRow(self.processor.name, ev.event_id, ts)

    def _apply_one(self, tx: StoreTx, it: Item, changes: Any) -> bool:
        """Safe mode: write one event's changes in a savepoint; dead-letter it if always refused."""
        for attempt in range(1, self.settings.max_attempts + 1):
            try:
                with tx.savepoint():
                    tx.apply(changes)
                return True
            except StoreWriteError as exc:
                if attempt == self.settings.max_attempts:
                    it.status = "poison"
                    it.attempts = attempt
                    it.poison = PoisonMessageError("handler_error", str(exc), error_class=exc.cause)
        return False

    def _defer(self, it: Item, service: str, retry_after: float, reason: str) -> None:
        it.status = "deferred"
        it.retry_after = max(retry_after, 0.05)
        self.metrics.deferred.labels(service).inc()
        ev = it.event
        log.warning(
            "partition_paused", topic=it.msg.topic, partition=it.msg.partition,
            offset=it.msg.offset,
            service=service, reason=reason, correlation_id=ev.correlation_id if ev else None,
        )  # fmt: skip

    # ------------------------------------------------ dead letters, offsets
    def _letter(self, it: Item) -> DeadLetter:
        assert it.poison is not None
        p = it.poison
        ev = it.event
        log.warning(
            "dead_lettered", kind=p.kind, reason=p.reason[:300], topic=it.msg.topic,
            partition=it.msg.partition, offset=it.msg.offset,
            correlation_id=ev.correlation_id if ev else it.msg.header("correlation_id"),
        )  # fmt: skip
        return DeadLetter(
            it.msg, p.kind, p.error_class, p.reason, max(it.attempts, 1), self.processor.name
        )

    def _send_dead_letters(
        self, letters: list[DeadLetter], items: list[Item]
    ) -> dict[Coordinates, str]:
        """Produce the batch's dead letters; the record of each one that could not be
        delivered is deferred (its partition paused at it). Those records, with the reason."""
        if not letters:
            return {}
        failed = self.dead_letters.send(letters)
        for letter in letters:
            if letter.coordinates_tuple not in failed:
                self.metrics.dead_lettered.labels(letter.kind).inc()
        if not failed:
            return {}
        log.error("dead_letters_undelivered", failed=len(failed))
        for it in items:
            if it.status == "poison" and (*it.tp, it.msg.offset) in failed:
                it.status = "deferred"
                it.retry_after = self.settings.pause_seconds
        topic = self.settings.dlq_topic
        return {c: f"dead letter not produced to {topic}: {r}" for c, r in failed.items()}

    def _stuck(self, tp: TP, offset: int, reason: str) -> None:
        """Report ``tp`` stuck at ``offset`` (log, gauge, note committed with the offset) when
        that is news."""
        state = self.stuck.mark(tp, offset, reason, datetime.now(UTC))
        if state is None:
            return
        log.error(
            "partition_stuck", topic=state.topic, partition=state.partition,
            offset=state.offset, reason=state.reason[:500], since=state.since.isoformat(),
            stuck=state.text[:300],
        )  # fmt: skip
        self.metrics.set_stuck(tp, state.offset)
        self.consumer.commit_note(tp, state.offset, state.note)

    def _unstuck(self, state: Stuck, why: str) -> None:
        log.info(
            "partition_unstuck", topic=state.topic, partition=state.partition,
            offset=state.offset, why=why,
        )  # fmt: skip
        self.metrics.clear_stuck((state.topic, state.partition))

    def _pause(self, blocked: Blocked) -> None:
        if not blocked:
            return
        self.consumer.pause(list(blocked))
        now = self._clock()
        for tp, (offset, seconds) in blocked.items():
            self.consumer.seek(tp, offset)
            self._paused[tp] = now + seconds
            self._rewind[tp] = offset

    def _store_idle_positions(self) -> None:
        """When idle, store positions past trailing transaction markers, so lag can reach 0.

        Safe: every record returned so far was handled; paused partitions are left alone.
        """
        moved = {
            tp: pos
            for tp, pos in self.consumer.positions().items()
            if tp not in self._paused and pos > self._stored.get(tp, -1)
        }
        if moved:
            self.consumer.store_offsets(moved)
            self._stored.update(moved)

    def _resume_due(self) -> None:
        if not self._paused:
            return
        now = self._clock()
        due = [tp for tp, at in self._paused.items() if at <= now]
        if due:
            self.consumer.resume(due)
            for tp in due:
                del self._paused[tp]
                offset = self._rewind.pop(tp, None)
                if offset is not None:
                    self.consumer.seek(tp, offset)
            log.info("partitions_resumed", partitions=[f"{t}[{p}]" for t, p in due])

    def _update_lag(self) -> None:
        now = self._clock()
        if now >= self._next_lag:
            self._next_lag = now + self.settings.lag_interval
            self.metrics.set_lag(self.consumer.lag())


def _pairs(todo: list[Item]) -> list[tuple[InboundEvent, object]]:
    """The events to apply with what the processor parsed from them."""
    return [(it.event, it.parsed) for it in todo if it.event is not None]


def _snapshot(items: list[Item]) -> Snapshot:
    return [(it.status, it.poison, it.attempts) for it in items]


def _skip_done(todo: list[Item], done: Collection[str], counts: AnomalyCounts) -> list[Item]:
    """Mark the items whose event was already applied as duplicates; the rest."""
    rest = []
    for it in todo:
        if it.event is not None and it.event.event_id in done:
            it.status = "duplicate"
            counts[(it.event.context, "duplicate")] += 1
        else:
            rest.append(it)
    return rest
