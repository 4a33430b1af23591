"""``cutover connectors recover NAME``: a lost replication slot back, without republishing.

When a connector's slot is dropped (or loses its WAL), Debezium's task fails with "the
connector is trying to read change stream starting at ..., but this is no longer available
on the server. Reconfigure the connector to use a snapshot mode"; restarting the task does
not help, and resetting its offsets re-snapshots the whole outbox. :func:`recover` instead:

1. stops the connector and reads its stored position (Connect's offsets): the commit time
   of the last change it recorded, ``lost_at``;
2. recreates the publication if it is gone, then the slot; the slot starts *now*, at
   ``slot_lsn`` / ``slot_created``;
3. sets the connector's offsets to the new slot's position, adds its signal table
   (:mod:`cdc.signal`) to its config, resumes it: streaming goes on from the new slot;
4. reads the outbox rows created in ``[lost_at - margin, slot_created)`` (the gap and a
   margin for transactions in flight when the slot went) — with an event log, until *now*
   (after the resume), dropping the ones whose ids are already on Kafka, so a transaction
   committed right at the new slot's start is backfilled too;
5. sends an ``execute-snapshot`` signal for exactly those rows (an incremental snapshot with
   ``additional-conditions``) and waits until its windows have closed.

Rows written before ``lost_at - margin`` are never re-read, nor, without an event log,
rows written after the new slot exists. Outbox rows deleted after capture cannot be backfilled: the report counts
only rows still in the table. The database and Kafka are ports (:class:`CaptureDatabase`,
:class:`EventLog`); :mod:`cdc.recover_io` has the real ones, :mod:`cdc.fake` the fakes.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import structlog

from cdc.client import ConnectClient
from cdc.errors import RecoveryIncomplete, RecoveryRefused
from cdc.health import SlotInfo
from cdc.models import RUNNING, STOPPED, OffsetEntry
from cdc.signal import (
    BackfillColumns,
    GapCondition,
    gap_condition,
    signal_settings,
    signal_table_ddl,
    signal_table_for,
    snapshot_signal,
)

log = structlog.get_logger(__name__)

POSTGRES_CONNECTOR = "io.debezium.connector.postgresql.PostgresConnector"
DEFAULT_REPLACEMENT = "outbox.event.${routedByValue}"


@dataclass(frozen=True, slots=True)
class NewSlot:
    """A slot just created: its consistent point (an LSN as Debezium stores it, an integer)
    and the database's time once it existed (a row created before it committed before the
    slot's start, or is both streamed and read by the backfill)."""

    lsn: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """An outbox row of the gap window: its event id and the value it is routed by."""

    id: str
    route: str


class CaptureDatabase(Protocol):
    """The captured database, as recovery needs it."""

    def slot(self, slot_name: str) -> SlotInfo | None: ...

    def drop_slot(self, slot_name: str) -> None: ...

    def create_slot(self, slot_name: str) -> NewSlot: ...

    def ensure_publication(self, name: str, tables: Sequence[str]) -> list[str]: ...

    def execute(self, ddl: str) -> None: ...

    def clear_signals(self, table: str) -> None: ...

    def send_signal(self, table: str, signal_id: str, kind: str, data: str) -> None: ...

    def closed_windows(self, table: str) -> int: ...

    def outbox_rows(
        self, columns: BackfillColumns, since: datetime, until: datetime
    ) -> list[OutboxRow]: ...


class EventLog(Protocol):
    """Kafka, as recovery needs it: topics created before use, ids already delivered."""

    def ensure_topics(self, names: Sequence[str]) -> list[str]: ...

    def delivered_ids(self, topics: Sequence[str], since: datetime) -> set[str]: ...


@dataclass(frozen=True, slots=True)
class RecoveryOptions:
    """How far back the gap reaches and how long to wait.

    ``margin_s``: rows created up to this long before the last recorded change are read
    again (a transaction that began before it and committed after is in the gap); set it to
    your longest outbox transaction. ``created_column`` is the outbox's creation time column.
    ``dry_run``: read the position and measure the window (until now), change nothing.
    """

    margin_s: float = 5.0
    timeout_s: float = 300.0
    poll_s: float = 0.5
    created_column: str = "created_at"
    outbox_table: str | None = None
    dry_run: bool = False


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """What :func:`recover` found and did."""

    connector: str
    slot: str
    lost_at: datetime
    since: datetime
    until: datetime
    slot_lsn: int
    rows_in_window: int
    delivered_in_window: int | None
    gap: int
    excludes_delivered: bool
    signal_id: str | None
    seconds: float
    steps: tuple[str, ...] = field(default_factory=tuple)
    dry_run: bool = False

    @property
    def may_reemit(self) -> int | None:
        """Rows of the window already on Kafka that the backfill sends again (None: unknown)."""
        if self.excludes_delivered:
            return 0
        return self.delivered_in_window

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["may_reemit"] = self.may_reemit
        return out


@dataclass
class _Run:
    client: ConnectClient
    name: str
    db: CaptureDatabase
    events: EventLog | None
    options: RecoveryOptions
    say: Callable[[str], None]
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    steps: list[str] = field(default_factory=list)

    started: float = 0.0

    def step(self, line: str) -> None:
        line = f"[{self.clock() - self.started:6.1f}s] {line}"
        self.steps.append(line)
        self.say(line)
        log.info("cdc.recover.step", connector=self.name, step=line)


def recover(
    client: ConnectClient,
    name: str,
    db: CaptureDatabase,
    *,
    events: EventLog | None = None,
    options: RecoveryOptions | None = None,
    say: Callable[[str], None] = lambda _line: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> RecoveryReport:
    """Recreate ``name``'s lost slot, resume from it and backfill only the gap."""
    started = clock()
    run = _Run(client, name, db, events, options or RecoveryOptions(), say, clock, sleep)
    run.started = started
    config = client.get_config(name)
    slot, publication, columns = _check(run, config)
    if run.options.dry_run:
        _entry, lost_at = _stored_position(run, config)
        window = _window(run, config, columns, lost_at, datetime.now(UTC))
        run.step("dry run: nothing changed (the window ends now)")
        return window.report(run, slot, 0, None, clock() - started)
    client.stop(name)
    client.wait_for(name, STOPPED, timeout_s=run.options.timeout_s)
    entry, lost_at = _stored_position(run, config)
    run.step(f"stopped {name}; its last recorded change was committed at {lost_at.isoformat()}")
    signal_table = signal_table_for(slot)
    new_slot = _recreate(run, config, slot, publication, signal_table)
    _restart(run, config, entry, new_slot, signal_table)
    # With Kafka to tell what was delivered, the window runs to now, past the resume: a
    # transaction committed right at the new slot's start was once neither streamed nor in a
    # window that ended at the slot (1 row of 2,077 in a clean-clone run). Rows streamed
    # since are excluded as delivered; ones streamed while the backfill is sent go twice.
    until = datetime.now(UTC) if run.events is not None else new_slot.created_at
    window = _window(run, config, columns, lost_at, max(until, new_slot.created_at))
    chunk = int(config.get("incremental.snapshot.chunk.size", "1024") or 1024)
    data = snapshot_signal(columns.table, window.condition.sql)
    signal_id = _backfill(run, signal_table, data, window.gap, chunk)
    report = window.report(run, slot, new_slot.lsn, signal_id, clock() - started)
    log.info("cdc.recovered", **{k: str(v) for k, v in report.to_dict().items() if k != "steps"})
    return report


@dataclass(frozen=True, slots=True)
class _Window:
    """The gap window's rows, those already on Kafka (None: unknown) and the condition."""

    lost_at: datetime
    since: datetime
    until: datetime
    rows: int
    delivered: int | None
    condition: GapCondition

    @property
    def gap(self) -> int:
        return self.rows - (self.delivered or 0)

    def report(
        self, run: _Run, slot: str, lsn: int, signal_id: str | None, seconds: float
    ) -> RecoveryReport:
        return RecoveryReport(
            connector=run.name,
            slot=slot,
            lost_at=self.lost_at,
            since=self.since,
            until=self.until,
            slot_lsn=lsn,
            rows_in_window=self.rows,
            delivered_in_window=self.delivered,
            gap=self.gap,
            excludes_delivered=self.condition.excludes_delivered,
            signal_id=signal_id,
            seconds=round(seconds, 3),
            steps=tuple(run.steps),
            dry_run=run.options.dry_run,
        )


def _window(
    run: _Run,
    config: Mapping[str, str],
    columns: BackfillColumns,
    lost_at: datetime,
    until: datetime,
) -> _Window:
    since = lost_at - timedelta(seconds=run.options.margin_s)
    rows = run.db.outbox_rows(columns, since, until)
    delivered = _delivered(run, config, rows, since)
    gap_ids = None if delivered is None else {r.id for r in rows} - delivered
    condition = gap_condition(
        columns, since, until, gap_ids=gap_ids, delivered_ids=sorted(delivered or ())
    )
    count = None if delivered is None else len(delivered)
    return _Window(lost_at, since, until, len(rows), count, condition)


def _check(run: _Run, config: Mapping[str, str]) -> tuple[str, str, BackfillColumns]:
    """The slot, publication and outbox columns; refused unless the slot is gone or lost."""
    if config.get("connector.class") != POSTGRES_CONNECTOR:
        raise RecoveryRefused(run.name, "not a Debezium Postgres connector")
    slot = config.get("slot.name", "debezium")
    publication = config.get("publication.name", "dbz_publication")
    found = run.db.slot(slot)
    if found is not None and found.wal_status != "lost":
        raise RecoveryRefused(
            run.name,
            f"its replication slot {slot} exists (active={found.active}); nothing was lost "
            "(`cutover connectors status` names the cause)",
        )
    return slot, publication, outbox_columns(config, run.options)


def outbox_columns(config: Mapping[str, str], options: RecoveryOptions) -> BackfillColumns:
    """The outbox table and columns of a connector's Event Router config."""
    table = options.outbox_table or _outbox_table(config)
    if table is None:
        raise RecoveryRefused(
            config.get("name", "?"),
            "cannot tell its outbox table from its config (give --outbox-table)",
        )
    return BackfillColumns(
        table=table,
        id=config.get("transforms.outbox.table.field.event.id", "id"),
        created=options.created_column,
        route_by=config.get("transforms.outbox.route.by.field", "aggregatetype"),
    )


def _outbox_table(config: Mapping[str, str]) -> str | None:
    prefix = config.get("topic.prefix", "")
    pattern = config.get("predicates.isOutbox.pattern")
    tables = [t.strip() for t in config.get("table.include.list", "").split(",") if t.strip()]
    for table in tables:
        if pattern and re.fullmatch(pattern, f"{prefix}.{table}"):
            return table
    return tables[0] if len(tables) == 1 else None


def _stored_position(run: _Run, config: Mapping[str, str]) -> tuple[OffsetEntry, datetime]:
    server = config.get("topic.prefix")
    for entry in run.client.get_offsets(run.name).entries:
        offset = entry.offset or {}
        if entry.partition.get("server") == server and "ts_usec" in offset:
            lost_at = datetime.fromtimestamp(int(offset["ts_usec"]) / 1e6, tz=UTC)
            return entry, lost_at
    if not run.options.dry_run:
        run.client.resume(run.name)
    raise RecoveryRefused(
        run.name,
        "it has no stored position (Connect offsets) to bound the gap; it never streamed, "
        "so there is nothing it delivered to protect: reset it with `connectors stop`, "
        "`offsets --reset`, `resume`",
    )


def _recreate(
    run: _Run, config: Mapping[str, str], slot: str, publication: str, signal_table: str
) -> NewSlot:
    run.db.execute(signal_table_ddl(signal_table))
    run.db.clear_signals(signal_table)
    tables = [t.strip() for t in config.get("table.include.list", "").split(",") if t.strip()]
    added = run.db.ensure_publication(publication, [*tables, signal_table])
    if added:
        run.step(f"publication {publication} now publishes {', '.join(added)}")
    found = run.db.slot(slot)
    if found is not None:  # wal_status lost: useless, and it holds the name
        run.db.drop_slot(slot)
        run.step(f"dropped slot {slot} (it had lost its WAL)")
    run.say(f"creating slot {slot} (Postgres first waits for open transactions to end)")
    new_slot = run.db.create_slot(slot)
    run.step(f"created slot {slot} at {_lsn_text(new_slot.lsn)}")
    return new_slot


def _restart(
    run: _Run,
    config: Mapping[str, str],
    entry: OffsetEntry,
    new_slot: NewSlot,
    signal_table: str,
) -> None:
    position = dict(entry.offset or {})
    position.update(lsn=new_slot.lsn, lsn_proc=new_slot.lsn, lsn_commit=new_slot.lsn)
    run.client.alter_offsets(run.name, [OffsetEntry(entry.partition, position)])
    changes = signal_settings(config, signal_table)
    if changes:
        run.client.patch_config(run.name, changes)
        run.step(f"signal table {signal_table} added to the connector's config")
    if run.events is not None:
        topic = f"{config.get('topic.prefix')}.{signal_table}"
        if run.events.ensure_topics([topic]):
            run.step(f"created topic {topic} (the signal table's change events)")
    run.client.resume(run.name)
    run.client.wait_for(run.name, RUNNING, timeout_s=run.options.timeout_s)
    run.step(f"resumed {run.name} from the new slot's position")


def _delivered(
    run: _Run, config: Mapping[str, str], rows: Collection[OutboxRow], since: datetime
) -> set[str] | None:
    if run.events is None or not rows:
        return None if run.events is None else set()
    replacement = config.get("transforms.outbox.route.topic.replacement", DEFAULT_REPLACEMENT)
    topics = sorted({replacement.replace("${routedByValue}", r.route) for r in rows})
    found = run.events.delivered_ids(topics, since)
    return found & {r.id for r in rows}


def _backfill(run: _Run, signal_table: str, data: str, gap: int, chunk: int) -> str | None:
    if gap == 0:
        run.step("the gap is empty: nothing to backfill")
        return None
    signal_id = str(uuid.uuid4())
    run.db.send_signal(signal_table, signal_id, "execute-snapshot", data)
    run.step(f"incremental snapshot of {gap} outbox row(s) requested (signal {signal_id})")
    windows = math.ceil(gap / chunk)
    deadline = run.clock() + run.options.timeout_s
    while True:
        closed = run.db.closed_windows(signal_table)
        if closed >= windows and not _snapshot_running(run):
            run.step(f"backfill done: {closed} snapshot window(s) closed")
            return signal_id
        if run.clock() >= deadline:
            raise RecoveryIncomplete(
                run.name, f"{closed} of {windows} window(s) closed", run.options.timeout_s
            )
        run.sleep(run.options.poll_s)


def _snapshot_running(run: _Run) -> bool:
    for entry in run.client.get_offsets(run.name).entries:
        if any(k.startswith("incremental_snapshot") for k in (entry.offset or {})):
            return True
    return False


def _lsn_text(lsn: int) -> str:
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"
