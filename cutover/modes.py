"""The migration mode switch: each context's mode, read at request time, briefly cached.

::

    modes = cutover.ModeSwitch.from_engine(engine)   # once, at start-up
    modes.start()                                     # heartbeat thread (optional)

    if modes.mode("favorite") is cutover.Mode.ASYNC: ...
    cutover.configure(outbox=cutover.Outbox(mode=modes.provider("favorite")))

``phases`` writes the modes table when an operator advances or rolls back; a
:class:`ModeSwitch` reads every context in one query and keeps the answer ``ttl`` seconds
(1 s by default), so a flip needs no redeploy. Reading never fails a request: when the
table cannot be read the switch keeps its last value (or ``default`` before its first
successful read), logs the outage once and counts each failed read in the prometheus
counter ``cutover_mode_read_failures_total``.

Each instance reports the modes it runs on through a heartbeat row (its instance id is
stable per process), written by a daemon thread every ``heartbeat_every`` seconds, never
on the request path and never raising: ``cutover advance`` / ``rollback`` wait until every
live instance reports the new mode.
"""

from __future__ import annotations

import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from prometheus_client import Counter

from cutover_common.modes import Mode

log = structlog.get_logger(__name__)

READ_FAILURES = Counter(
    "cutover_mode_read_failures",
    "Reads of the context modes table that failed (the switch kept its last value)",
)
HEARTBEAT_FAILURES = Counter(
    "cutover_mode_heartbeat_failures",
    "Instance heartbeats that could not be written",
)


class ModeReader(Protocol):
    """Port: every context's mode as stored (the modes table)."""

    def read_modes(self) -> Mapping[str, str]:
        """``{context: mode}``; raises when the table cannot be read."""
        ...


@dataclass(frozen=True, slots=True)
class InstanceReport:
    """What one instance last observed: the heartbeat row."""

    instance_id: str
    modes: Mapping[str, str]
    """``{context: mode}`` the instance would use for its next request."""
    beat_at: datetime
    host: str = ""
    pid: int = 0


class HeartbeatSink(Protocol):
    """Port: where instances report the modes they run on."""

    def beat(self, report: InstanceReport) -> None:
        """Upsert the instance's row; raises when it cannot be written."""
        ...

    def forget(self, instance_id: str) -> None:
        """Remove the instance's row (it shuts down cleanly)."""
        ...


_PROCESS_ID: tuple[int, str] | None = None


def process_instance_id() -> str:
    """This process's instance id: ``host:pid:random``; stable per process, new after a fork."""
    global _PROCESS_ID  # noqa: PLW0603 - one id per process, recomputed after a fork
    pid = os.getpid()
    if _PROCESS_ID is None or _PROCESS_ID[0] != pid:
        _PROCESS_ID = (pid, f"{socket.gethostname()}:{pid}:{uuid.uuid4().hex[:8]}")
    return _PROCESS_ID[1]


@dataclass(frozen=True, slots=True)
class _Snapshot:
    modes: Mapping[str, Mode]
    loaded_at: float  # monotonic; -inf: never read (nor tried)
    observed_at: datetime | None


@dataclass(frozen=True, slots=True)
class HeartbeatOptions:
    """How often an instance reports, and as whom."""

    every: float = 5.0
    instance_id: str = field(default_factory=process_instance_id)


class ModeSwitch:
    """The mode source of every context, for Flask, a worker or plain code (thread-safe).

    ``reader``: where modes are stored (:meth:`from_engine` for the SQL table).
    ``ttl``: seconds a read is reused. ``default``: the mode of a context without a row,
    and of every context before the first successful read. ``heartbeats``: where this
    instance reports what it observed (None: it does not report).
    """

    def __init__(
        self,
        reader: ModeReader,
        *,
        ttl: float = 1.0,
        default: Mode | str = Mode.SYNC,
        heartbeats: HeartbeatSink | None = None,
        heartbeat: HeartbeatOptions | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._reader = reader
        self._ttl = ttl
        self._default = Mode(default)
        self._sink = heartbeats
        self._options = heartbeat or HeartbeatOptions()
        self._clock = clock
        self._snapshot = _Snapshot({}, -math.inf, None)
        self._refreshing = threading.Lock()
        self._failing = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._beat_failing = False

    @classmethod
    def from_engine(
        cls, engine: Any, *, schema: str = "cutover", heartbeats: bool = True, **kwargs: Any
    ) -> ModeSwitch:
        """A switch over cutover's modes table (and heartbeat table) in ``schema`` of the
        application's database (a SQLAlchemy ``engine``); ``kwargs`` as the constructor's."""
        from cutover.state_sql import SqlHeartbeats, SqlModeTable

        sink = SqlHeartbeats(engine, schema=schema) if heartbeats else None
        return cls(SqlModeTable(engine, schema=schema), heartbeats=sink, **kwargs)

    @property
    def instance_id(self) -> str:
        """The id this instance reports under."""
        return self._options.instance_id

    # -- reading -----------------------------------------------------------------------------
    def mode(self, context: str) -> Mode:
        """``context``'s mode: cached, never raising (see the class)."""
        snap = self._snapshot
        if self._clock() - snap.loaded_at >= self._ttl:
            snap = self._refresh(snap)
        return snap.modes.get(context, self._default)

    def modes(self) -> Mapping[str, Mode]:
        """Every context's mode as last read (refreshed when older than ``ttl``)."""
        snap = self._snapshot
        if self._clock() - snap.loaded_at >= self._ttl:
            snap = self._refresh(snap)
        return snap.modes

    def provider(self, context: str) -> Callable[[], str]:
        """A callable giving ``context``'s mode, for ``cutover.Outbox(mode=...)``."""
        return lambda: self.mode(context).value

    def _refresh(self, seen: _Snapshot) -> _Snapshot:
        # One thread reads; the others go on with the value they have (once there is one).
        first = seen.loaded_at == -math.inf
        if not self._refreshing.acquire(blocking=first):
            return self._snapshot
        try:
            snap = self._snapshot
            if self._clock() - snap.loaded_at < self._ttl:
                return snap  # another thread refreshed meanwhile
            snap = self._load(snap)
            self._snapshot = snap
            return snap
        finally:
            self._refreshing.release()

    def _load(self, last: _Snapshot) -> _Snapshot:
        now = self._clock()
        try:
            raw = self._reader.read_modes()
            modes = {str(c): Mode(str(m)) for c, m in raw.items()}
        except Exception as exc:  # any failure: keep the last value, never fail the request
            READ_FAILURES.inc()
            if not self._failing:
                self._failing = True
                log.warning(
                    "modes_unreadable",
                    error=type(exc).__name__,
                    kept=("default " + self._default.value)
                    if last.observed_at is None
                    else "last read",
                )
            return _Snapshot(last.modes, now, last.observed_at)
        if self._failing:
            self._failing = False
            log.info("modes_readable_again")
        return _Snapshot(modes, now, datetime.now(UTC))

    # -- reporting ---------------------------------------------------------------------------
    def report(self) -> InstanceReport:
        """What this instance runs on now (the modes it would use for its next request)."""
        modes = self.modes()
        return InstanceReport(
            instance_id=self.instance_id,
            modes={c: m.value for c, m in modes.items()},
            beat_at=datetime.now(UTC),
            host=socket.gethostname(),
            pid=os.getpid(),
        )

    def beat(self) -> bool:
        """Write this instance's heartbeat now; False when it could not (logged once, counted)."""
        if self._sink is None:
            return False
        try:
            self._sink.beat(self.report())
        except Exception as exc:
            HEARTBEAT_FAILURES.inc()
            if not self._beat_failing:
                self._beat_failing = True
                log.warning("mode_heartbeat_failed", error=type(exc).__name__)
            return False
        if self._beat_failing:
            self._beat_failing = False
            log.info("mode_heartbeat_written_again")
        return True

    def start(self) -> ModeSwitch:
        """Start the heartbeat thread (a daemon; idempotent); returns the switch."""
        if self._sink is not None and (self._thread is None or not self._thread.is_alive()):
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._beat_loop, name=f"cutover-modes-{self.instance_id}", daemon=True
            )
            self._thread.start()
        return self

    def stop(self, *, forget: bool = True) -> None:
        """Stop the heartbeat thread; ``forget`` removes this instance's row (a clean exit)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._options.every + 5.0)
            self._thread = None
        if forget and self._sink is not None:
            try:
                self._sink.forget(self.instance_id)
            except Exception as exc:
                log.warning("mode_heartbeat_not_removed", error=type(exc).__name__)

    def _beat_loop(self) -> None:
        while not self._stop.is_set():
            self.beat()
            self._stop.wait(self._options.every)


class StaticModes:
    """In-memory :class:`ModeReader` for tests: set modes, or make reads fail."""

    def __init__(self, modes: Mapping[str, Mode | str] | None = None) -> None:
        self.modes: dict[str, str] = {c: Mode(m).value for c, m in (modes or {}).items()}
        self.failing = False
        self.reads = 0

    def read_modes(self) -> Mapping[str, str]:
        self.reads += 1
        if self.failing:
            raise ConnectionError("modes table unreadable (fake)")
        return dict(self.modes)

    def set(self, context: str, mode: Mode | str) -> None:
        """Store ``mode`` for ``context`` (raises ``ValueError`` on an unknown mode)."""
        self.modes[context] = Mode(mode).value


class MemoryHeartbeats:
    """In-memory :class:`HeartbeatSink` for tests (and the reader side of ``phases``)."""

    def __init__(self) -> None:
        self.rows: dict[str, InstanceReport] = {}
        self.failing = False

    def beat(self, report: InstanceReport) -> None:
        if self.failing:
            raise ConnectionError("heartbeat table unwritable (fake)")
        self.rows[report.instance_id] = report

    def forget(self, instance_id: str) -> None:
        """Drop the instance's row (an instance that stopped)."""
        self.rows.pop(instance_id, None)

    def reports(self) -> list[InstanceReport]:
        """Every instance's last report."""
        return list(self.rows.values())
