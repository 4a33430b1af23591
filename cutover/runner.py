"""The migration runner of one context: what runs, per mode, for one business operation.

The team gives the sync call and the event path as callables (LaunchDarkly's ``Migrator``,
Scientist's control and candidate); :meth:`Migration.run` decides from the context's
current mode:

========== ============================================================================
mode       what runs
========== ============================================================================
sync       ``sync()`` only; its answer is returned
dual       ``sync()``, then ``events(tx)`` — the outbox row in the caller's transaction
async      ``events(tx)`` (authoritative), then the verify run, recorded (not returned)
events-only ``events(tx)`` only; the sync call does not run
naive-dual ``sync()`` only, as ``sync``: the sample's post-commit produce is its own code
========== ============================================================================

``tx`` is the caller's open transaction (a SQLAlchemy ``Session``/``Connection`` or a
psycopg ``Connection``): the runner hands it to ``events`` which calls
``cutover.emit(tx, ...)``; the caller commits. A verify run is a :class:`Verify`: the
downstream's dry-run call, or — for a downstream without one — the request that would have
been sent, recorded instead of sent. It runs on a worker thread for at most
``verify_timeout`` seconds; a timeout or an error is recorded *inconclusive* and never
raised into the request. :meth:`Migration.call_sync` guards a sync call made outside
:meth:`run`: in ``events-only`` it is recorded as blocked and not executed.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, replace
from typing import Any, Generic, Protocol, TypeVar

import structlog
from prometheus_client import Counter

from cutover.correlation import current_correlation_id
from cutover.errors import InvalidVerify, SyncCallBlocked
from cutover.verify import BlockedCall, Ledger, RecordedRequest, VerifyForm, VerifyRecord
from cutover_common.modes import Mode
from cutover_common.secrets import redact

log = structlog.get_logger(__name__)
T = TypeVar("T")

VERIFY_RUNS = Counter(
    "cutover_verify_runs", "Verify runs by context and result", ["context", "result"]
)
RECORD_FAILURES = Counter(
    "cutover_verify_record_failures", "Verify results or blocked calls that could not be stored"
)


class ContextModes(Protocol):
    """Anything that gives a context's mode (a :class:`cutover.ModeSwitch`, a test fake)."""

    def mode(self, context: str) -> Mode:
        """The mode ``context`` runs in for the next request."""
        ...


@dataclass(frozen=True, slots=True)
class Verify:
    """How the sync path runs in verify mode: exactly one of

    * ``dry_run`` — calls the downstream's dry-run (compute, don't commit) and returns its
      answer (anything :func:`cutover.verify.jsonable` can store);
    * ``request`` — builds the :class:`~cutover.verify.RecordedRequest` the sync call would
      send; it is recorded and compared, never sent.
    """

    dry_run: Callable[[], Any] | None = None
    request: Callable[[], RecordedRequest] | None = None

    def __post_init__(self) -> None:
        if (self.dry_run is None) == (self.request is None):
            raise InvalidVerify("a Verify takes exactly one of dry_run= and request=")

    @property
    def form(self) -> VerifyForm:
        """Which of the two forms this is (``dry-run`` or ``recorded-request``)."""
        return "dry-run" if self.dry_run is not None else "recorded-request"

    def answer(self) -> Any:
        """Run the dry run, or build the recorded request's document (raises ``TypeError``
        when ``request`` returns something other than a :class:`RecordedRequest`)."""
        if self.dry_run is not None:
            return self.dry_run()
        assert self.request is not None  # __post_init__ guarantees it
        recorded = self.request()
        if not isinstance(recorded, RecordedRequest):
            raise TypeError(f"request= returned a {type(recorded).__name__}, not RecordedRequest")
        return recorded.document()


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """What :meth:`Migration.run` did in ``mode``.

    ``value``: the sync call's answer (``sync``, ``dual``, ``naive-dual``), else None — in
    ``async`` and ``events-only`` the event path decides, later. ``verify``: the verify
    run's record in ``async``.
    """

    mode: Mode
    value: T | None = None
    ran_sync: bool = False
    wrote_events: bool = False
    verify: VerifyRecord | None = None


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _default_executor() -> Executor:
    global _pool  # noqa: PLW0603 - one shared pool of verify threads per process
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="cutover-verify")
        return _pool


class Migration:
    """The runner of one context (see the module). Thread-safe; build one per context at
    start-up: ``Migration("favorite", modes, cutover.SqlLedger(engine))``."""

    def __init__(
        self,
        context: str,
        modes: ContextModes,
        ledger: Ledger,
        *,
        verify_timeout: float = 2.0,
        executor: Executor | None = None,
    ) -> None:
        if verify_timeout <= 0:
            raise InvalidVerify(f"verify_timeout must be positive, not {verify_timeout}")
        self.context = context
        self._modes = modes
        self._ledger = ledger
        self._timeout = verify_timeout
        self._executor = executor

    def mode(self) -> Mode:
        """The context's current mode (from the mode source's cache)."""
        return self._modes.mode(self.context)

    def run(
        self,
        tx: Any,
        *,
        key: str,
        operation: str,
        sync: Callable[[], T],
        events: Callable[[Any], object],
        verify: Verify | None = None,
        correlation_id: str | None = None,
    ) -> Outcome[T]:
        """Run ``operation`` for business key ``key`` in the context's current mode.

        Exceptions of ``sync`` and ``events`` propagate (the caller's transaction then rolls
        back); the verify run's never do.
        """
        mode = self.mode()
        if mode in (Mode.SYNC, Mode.NAIVE_DUAL):
            return Outcome(mode, sync(), ran_sync=True)
        if mode is Mode.DUAL:
            value = sync()
            events(tx)
            return Outcome(mode, value, ran_sync=True, wrote_events=True)
        events(tx)
        if mode is Mode.EVENTS_ONLY:
            return Outcome(mode, wrote_events=True)
        record = self.verify(key, operation, verify, correlation_id=correlation_id)
        return Outcome(mode, wrote_events=True, verify=record)

    def verify(
        self,
        key: str,
        operation: str,
        verify: Verify | None,
        *,
        correlation_id: str | None = None,
    ) -> VerifyRecord:
        """Run ``verify`` (bounded by ``verify_timeout``) and record its result; never raises.

        Without a verify form the run is recorded inconclusive (the sync call cannot run
        safely while the event path is authoritative).
        """
        correlation = correlation_id or current_correlation_id()
        if verify is None:
            record = VerifyRecord(
                self.context, operation, str(key), "dry-run", inconclusive=True,
                reason="no verify form given", correlation_id=correlation,
            )  # fmt: skip
        else:
            record = self._run_bounded(str(key), operation, verify, correlation)
        VERIFY_RUNS.labels(self.context, "inconclusive" if record.inconclusive else "ok").inc()
        self._store(self._ledger.record_verify, record)
        return record

    def record_verify(
        self,
        key: str,
        operation: str,
        answer: Any,
        *,
        form: VerifyForm = "dry-run",
        inconclusive: bool = False,
        reason: str | None = None,
        correlation_id: str | None = None,
    ) -> VerifyRecord:
        """Record a verify answer obtained by the caller (a flow of several dry-run calls
        that records each, then a summary); never raises."""
        record = VerifyRecord(
            self.context, operation, str(key), form, answer, inconclusive, reason,
            correlation_id or current_correlation_id(),
        )  # fmt: skip
        self._store(self._ledger.record_verify, record)
        return record

    def call_sync(self, operation: str, fn: Callable[[], T], *, key: str | None = None) -> T:
        """Guard a sync call made outside :meth:`run`: in ``events-only`` record it as blocked
        and raise :class:`~cutover.errors.SyncCallBlocked` without calling ``fn``; in every
        other mode return ``fn()``."""
        if self.mode() is Mode.EVENTS_ONLY:
            call = BlockedCall(self.context, operation, key, current_correlation_id())
            log.error("sync_call_blocked", context=self.context, operation=operation, key=key)
            self._store(self._ledger.record_blocked, call)
            raise SyncCallBlocked(self.context, operation)
        return fn()

    # -- internals ---------------------------------------------------------------------------
    def _run_bounded(
        self, key: str, operation: str, verify: Verify, correlation: str | None
    ) -> VerifyRecord:
        base = VerifyRecord(self.context, operation, key, verify.form, correlation_id=correlation)
        started = time.perf_counter()
        context = contextvars.copy_context()  # the request's correlation id, in the worker
        future = (self._executor or _default_executor()).submit(context.run, verify.answer)
        try:
            answer = future.result(timeout=self._timeout)
        except FutureTimeout:
            future.cancel()
            return self._inconclusive(base, f"timeout after {self._timeout:g}s", started)
        except Exception as exc:
            reason = redact(f"{type(exc).__name__}: {exc}")[:500]
            return self._inconclusive(base, reason, started)
        return replace(base, answer=answer, elapsed_ms=(time.perf_counter() - started) * 1000)

    def _inconclusive(self, base: VerifyRecord, reason: str, started: float) -> VerifyRecord:
        log.warning(
            "verify_inconclusive",
            context=self.context,
            operation=base.operation,
            key=base.key,
            reason=reason,
        )
        elapsed = (time.perf_counter() - started) * 1000
        return replace(base, inconclusive=True, reason=reason, elapsed_ms=elapsed)

    def _store(self, write: Callable[[Any], None], record: Any) -> None:
        try:
            write(record)
        except Exception as exc:  # a record that cannot be stored never fails the request
            RECORD_FAILURES.inc()
            log.error(
                "verify_record_not_stored",
                context=self.context,
                kind=type(record).__name__,
                error=type(exc).__name__,
            )
