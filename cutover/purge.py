"""Remove outbox rows Debezium has already captured: ``cutover outbox purge``.

Rows stay in the outbox after they are published (repair idempotency and the version index
read them); purging keeps the table small without ever dropping a row the connector has not
yet captured.

**The rule.** A row does not store the LSN of its commit, so the purge proves capture for a
whole snapshot at once instead of row by row:

1. In one ``REPEATABLE READ`` transaction it counts the rows older than ``--older-than``
   (this takes the transaction's snapshot), then reads ``pg_current_wal_insert_lsn()`` =
   *L*. Every row the snapshot sees was committed before it was taken, so its commit record
   lies below *L*.
2. It reads the plan's replication slot (``pg_replication_slots``, this database). Once the
   slot's ``confirmed_flush_lsn`` is at or past *L*, the connector has confirmed every
   transaction committed below *L*, so every row of the snapshot has been captured (the
   connector's heartbeat moves the confirmed position on a quiet database). It waits for
   that at most ``wait_s``.
3. Only then it deletes, in the same transaction and snapshot, the rows older than the
   cutoff: rows committed after the snapshot are invisible to it and never deleted.

So a stopped, paused or lagging connector purges nothing (its confirmed position does not
reach *L*): the purge waits, then says why and exits non-zero. A missing slot purges
nothing. The rule never depends on clocks agreeing; ``created_at`` only chooses which
captured rows are old enough to go.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

import psycopg
import structlog
from psycopg import sql

from cdc.outbox_table import OutboxLayout
from cutover.errors import OutboxConfigError, PurgeRefused
from cutover.provision import outbox_connection
from cutover_common.exit_codes import ExitCode

log = structlog.get_logger(__name__)

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

_SLOT = (
    "SELECT active, confirmed_flush_lsn::text, coalesce(confirmed_flush_lsn >= %s::pg_lsn, false) "
    "FROM pg_replication_slots WHERE slot_name = %s AND database = current_database()"
)


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``12h``, ``7d``, ``2w`` -> a positive timedelta; else
    :class:`~cutover.errors.OutboxConfigError`."""
    match = _DURATION.match(text)
    if not match or int(match.group(1)) == 0:
        raise OutboxConfigError(
            f"--older-than {text!r} is not a positive duration",
            hint="give a number and a unit: s, m, h, d or w (e.g. 7d)",
        )
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


@dataclass(frozen=True, slots=True)
class SlotState:
    """The replication slot as the purge read it, against the required position."""

    active: bool
    confirmed_lsn: str | None
    reached: bool


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """What :func:`purge_outbox` found and did (``purged`` is 0 on a dry run)."""

    table: str
    slot: str
    older_than_s: int
    candidates: int
    purged: int
    dry_run: bool
    required_lsn: str
    confirmed_lsn: str | None
    waited_s: float

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": "dry-run" if self.dry_run else "purged"}


def purge_outbox(
    conninfo: str,
    layout: OutboxLayout,
    slot: str,
    older_than: timedelta,
    *,
    dry_run: bool = False,
    wait_s: float = 30.0,
    poll_s: float = 0.25,
) -> PurgeResult:
    """Delete ``layout``'s rows older than ``older_than`` that ``slot`` has captured (see the
    module doc); raises :class:`~cutover.errors.PurgeRefused` having deleted nothing."""
    created_at = layout.columns.created_at
    if created_at is None:
        raise OutboxConfigError(
            f"outbox table {layout.table} has no created_at column in the outbox block",
            hint="purge ages rows by it: name the table's timestamp column as created_at",
        )
    with outbox_connection(conninfo, "the purge") as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with conn.transaction():
            return _purge(conn, layout, created_at, slot, older_than, dry_run, wait_s, poll_s)


def _purge(  # noqa: PLR0917 - one transaction's steps, called once
    conn: psycopg.Connection[Any],
    layout: OutboxLayout,
    created_at: str,
    slot: str,
    older_than: timedelta,
    dry_run: bool,
    wait_s: float,
    poll_s: float,
) -> PurgeResult:
    _require_table(conn, layout)
    old = sql.SQL("{} < now() - %s").format(sql.Identifier(created_at))
    table = sql.Identifier(layout.schema, layout.name)
    count = sql.SQL("SELECT count(*) FROM {} WHERE {}").format(table, old)
    candidates = _scalar(conn, count, (older_than,))  # takes the snapshot
    required = str(_scalar(conn, b"SELECT pg_current_wal_insert_lsn()::text"))
    started = time.monotonic()
    state = _slot(conn, slot, required)
    while candidates and not state.reached:
        waited = time.monotonic() - started
        if not state.active or waited >= wait_s:
            raise _refusal(layout, slot, candidates, older_than, required, state, waited)
        time.sleep(poll_s)
        state = _slot(conn, slot, required)
    purged = 0
    if candidates and not dry_run:
        deleted = conn.execute(sql.SQL("DELETE FROM {} WHERE {}").format(table, old), (older_than,))
        purged = deleted.rowcount
    result = PurgeResult(
        layout.table,
        slot,
        int(older_than.total_seconds()),
        candidates,
        purged,
        dry_run,
        required,
        state.confirmed_lsn,
        round(time.monotonic() - started, 3),
    )
    log.info("outbox.purge", **result.to_dict())
    return result


def _slot(conn: psycopg.Connection[Any], slot: str, required: str) -> SlotState:
    """The slot's state, read live (``pg_replication_slots`` is not bound to the snapshot)."""
    row = conn.execute(_SLOT, (required, slot)).fetchone()
    if row is None:
        raise PurgeRefused(
            f"nothing purged: replication slot {slot} does not exist in this database, "
            "so no row can be shown captured",
            exit_code=ExitCode.NOT_FOUND,
            hint="apply the connector first (phase 2), or give the plan whose slot it is",
        )
    return SlotState(bool(row[0]), row[1], bool(row[2]))


def _refusal(  # noqa: PLR0917
    layout: OutboxLayout,
    slot: str,
    candidates: int,
    older_than: timedelta,
    required: str,
    state: SlotState,
    waited: float,
) -> PurgeRefused:
    why = (
        "is inactive (connector stopped?)"
        if not state.active
        else f"did not confirm it within {waited:.0f}s (connector paused or lagging)"
    )
    return PurgeRefused(
        f"nothing purged: {candidates} rows of {layout.table} are older than "
        f"{_human(older_than)}, but replication slot {slot} {why}: confirmed "
        f"{state.confirmed_lsn or 'nothing'}, captured rows need {required}",
        exit_code=ExitCode.UNHEALTHY,
        hint="check `cutover connectors status`; purge again once the connector caught up",
    )


def _require_table(conn: psycopg.Connection[Any], layout: OutboxLayout) -> None:
    if _scalar(conn, b"SELECT to_regclass(%s) IS NOT NULL", (layout.qualified,)):
        return
    raise PurgeRefused(
        f"nothing purged: outbox table {layout.table} does not exist",
        exit_code=ExitCode.NOT_FOUND,
        hint="check the plan's outbox block (cutover outbox init creates the table)",
    )


def _scalar(
    conn: psycopg.Connection[Any], query: bytes | sql.Composed, params: tuple[Any, ...] = ()
) -> Any:
    found = conn.execute(query, params).fetchone()
    return None if found is None else found[0]


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
