"""Outcome records of the sync path, built from the legacy tables (and from verify results).

:func:`iter_sync_outcomes` streams one :class:`~legacy_app.outcome.Outcome`
(``source="sync"``) per finished order (``completed`` or ``failed``), from
:data:`SYNC_OUTCOMES_SQL`: one portable query (Postgres and SQLite) that lists
the facts of each order — the order, its reservation lines, payments,
shipment, notifications — sorted by order id, read through a server-side
cursor (``yield_per``) and folded per order in Python.

:func:`iter_verify_outcomes` does the same (``source="verify"``) from the
verify (dry-run) answers recorded in ``async`` mode (:data:`VERIFY_OUTCOMES_SQL`).
It leaves out *inconclusive* verify runs — a downstream gave no answer to a dry-run
call, so the run shows the infrastructure, not the sync logic's decision — which
:func:`inconclusive_verify_ids` lists; with ``include_inconclusive`` it yields them too,
flagged ``inconclusive`` (:data:`INCONCLUSIVE`, the comparators' default
``compare.inconclusive_column``), so a comparison counts them as left out instead of never
seeing them.

Each sync outcome carries the order's write-time mode (``orders.mode``) as ``write_mode``
(:data:`WRITE_MODE`, in ``Outcome.extra`` and in the JSON query), which the comparators use
to tell which keys a comparison covers.

Conventions (shared with the event side): reservation lines sorted by SKU,
``None`` when nothing was reserved (out of stock, inventory unavailable);
``released`` after a compensation; payment ``attempts`` = payments applied;
notifications sorted by (template, recipient); ``produced_at`` = when the
order was finished.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Row, text

from legacy_app.outcome import (
    Notification,
    Outcome,
    Payment,
    Reservation,
    ReservationLine,
    Shipment,
    money,
)
from legacy_app.schema import make_engine

WRITE_MODE = "write_mode"
"""The sync outcome's column (and ``Outcome.extra`` key) holding the mode the order was placed
in (``orders.mode``): the comparators leave keys written in ``sync`` out of a dual-write
comparison (``out_of_scope``) instead of counting them missing."""

SYNC_OUTCOMES_SQL = """
WITH finished AS (
    SELECT id, correlation_id, status, total, finished_at, mode
    FROM orders WHERE status IN ('completed', 'failed')
)
SELECT f.id AS order_id, 0 AS part, f.status AS a, f.correlation_id AS b,
       CAST(f.total AS VARCHAR(40)) AS c, CAST(NULL AS INTEGER) AS n, f.finished_at AS ts,
       f.mode AS m
FROM finished f
UNION ALL
SELECT r.order_id, 1, r.status, l.sku, NULL, l.qty, NULL, NULL
FROM inventory_reservations r
JOIN finished f ON f.id = r.order_id
JOIN inventory_reservation_lines l ON l.reservation_id = r.id
WHERE r.status IN ('reserved', 'released')
UNION ALL
SELECT p.order_id, 2, p.status, p.id, CAST(p.amount AS VARCHAR(40)), NULL, p.created_at, NULL
FROM payments p JOIN finished f ON f.id = p.order_id
UNION ALL
SELECT s.order_id, 3, s.status, s.carrier, NULL, NULL, NULL, NULL
FROM shipments s JOIN finished f ON f.id = s.order_id
UNION ALL
SELECT m.order_id, 4, m.template, m.recipient, NULL, NULL, NULL, NULL
FROM notifications m JOIN finished f ON f.id = m.order_id
ORDER BY order_id, part, ts, b
"""

SYNC_OUTCOME_JSON_SQL = """
SELECT json_build_object(
    'order_id', o.id,
    'correlation_id', o.correlation_id,
    'status', o.status,
    'total', o.total::text,
    'reservation', (
        SELECT json_build_object(
            'lines', json_agg(json_build_object('sku', l.sku, 'qty', l.qty)
                              ORDER BY l.sku COLLATE "C"),
            'released', bool_or(r.status = 'released'))
        FROM inventory_reservations r
        JOIN inventory_reservation_lines l ON l.reservation_id = r.id
        WHERE r.order_id = o.id AND r.status IN ('reserved', 'released')
        HAVING count(*) > 0),
    'payment', (
        SELECT json_build_object(
            'amount', ((array_agg(p.amount ORDER BY p.created_at DESC, p.id DESC))[1])::text,
            'status', (array_agg(p.status ORDER BY p.created_at DESC, p.id DESC))[1],
            'attempts', count(*))
        FROM payments p WHERE p.order_id = o.id
        HAVING count(*) > 0),
    'shipment', (
        SELECT json_build_object('carrier', s.carrier, 'status', s.status)
        FROM shipments s WHERE s.order_id = o.id ORDER BY s.created_at LIMIT 1),
    'notifications', COALESCE((
        SELECT json_agg(json_build_object('template', m.template, 'recipient', m.recipient)
                        ORDER BY m.template COLLATE "C", m.recipient COLLATE "C")
        FROM notifications m WHERE m.order_id = o.id), '[]'::json),
    'produced_at', o.finished_at,
    'source', 'sync',
    'write_mode', o.mode
) AS outcome
FROM orders o
WHERE o.status IN ('completed', 'failed')
"""
"""Postgres only: the same records as :func:`iter_sync_outcomes`, one JSON ``outcome`` per order
(``Outcome.to_dict()`` shape), for SQL-driven comparator sources that wrap, filter and order it."""


INCONCLUSIVE = "inconclusive"
"""The verify outcome's ``extra`` key flagging an inconclusive run (never compared)."""


def verify_outcomes_sql(
    schema: str | None = "cutover", *, include_inconclusive: bool = False
) -> str:
    """The verify results of every order whose verify run was conclusive (or of every verified
    order, with ``include_inconclusive``), from cutover's ``verify_results`` in ``schema``
    (``None`` on SQLite)."""
    table = f"{schema}.verify_results" if schema else "verify_results"
    conclusive = "" if include_inconclusive else " AND NOT inconclusive"
    return f"""
SELECT v.business_key AS order_id, v.context, v.operation, v.result, v.correlation_id,
       v.recorded_at
FROM {table} v
WHERE v.business_key IN (
    SELECT business_key FROM {table}
    WHERE context = 'order' AND operation = 'finish'{conclusive}
)
ORDER BY v.business_key, v.id
"""


VERIFY_OUTCOMES_SQL = verify_outcomes_sql()


def inconclusive_verify_ids_sql(schema: str | None = "cutover") -> str:
    """Orders whose verify run was inconclusive (a partial index holds just those), from
    cutover's ``verify_results`` in ``schema`` (``None`` on SQLite)."""
    table = f"{schema}.verify_results" if schema else "verify_results"
    return (
        f"SELECT business_key AS order_id FROM {table} "
        "WHERE inconclusive AND context = 'order' AND operation = 'finish'"
    )


INCONCLUSIVE_VERIFY_IDS_SQL = inconclusive_verify_ids_sql()
"""Postgres (the default state schema): :func:`inconclusive_verify_ids_sql`."""


def _utc(value: Any) -> datetime:
    ts = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _sync_outcome(order_id: str, rows: Sequence[Row[Any]]) -> Outcome:
    head = rows[0]
    lines = [r for r in rows if r.part == 1]
    pays = [r for r in rows if r.part == 2]
    ships = [r for r in rows if r.part == 3]
    notes = sorted((str(r.a), str(r.b)) for r in rows if r.part == 4)
    reservation = (
        Reservation(
            lines=tuple(
                sorted((ReservationLine(str(r.b), int(r.n)) for r in lines), key=lambda x: x.sku)
            ),
            released=any(r.a == "released" for r in lines),
        )
        if lines
        else None
    )
    payment = Payment(money(pays[-1].c), pays[-1].a, attempts=len(pays)) if pays else None
    return Outcome(
        order_id=order_id,
        correlation_id=str(head.b or ""),
        status=head.a,
        total=money(head.c),
        reservation=reservation,
        payment=payment,
        shipment=Shipment(str(ships[0].b), str(ships[0].a)) if ships else None,
        notifications=tuple(Notification(t, r) for t, r in notes),
        produced_at=_utc(head.ts),
        source="sync",
        extra={WRITE_MODE: str(head.m)} if head.m else {},
    )


def _state_schema(db: Engine | str) -> str | None:
    """cutover's schema (the default) on Postgres; none on SQLite."""
    url = db if isinstance(db, str) else db.url.drivername
    return None if url.startswith("sqlite") else "cutover"


def _stream(db: Engine | str, sql: str, batch_size: int) -> Iterator[Row[Any]]:
    engine = make_engine(db, pool_size=1) if isinstance(db, str) else db
    try:
        with engine.connect() as conn:
            result = conn.execution_options(yield_per=batch_size).execute(text(sql))
            yield from result
    finally:
        if isinstance(db, str):
            engine.dispose()


def iter_sync_outcomes(db: Engine | str, *, batch_size: int = 1000) -> Iterator[Outcome]:
    """One ``sync`` outcome per finished order, streamed, grouped by order id.

    ``db`` is an engine or a database URL (then an engine is made and disposed here).
    """
    rows = _stream(db, SYNC_OUTCOMES_SQL, batch_size)
    for order_id, group in itertools.groupby(rows, key=lambda r: str(r.order_id)):
        facts = list(group)
        if facts[0].part == 0:  # facts of an order that finished between the CTE scans are skipped
            yield _sync_outcome(order_id, facts)


def _result(value: Any) -> dict[str, Any]:
    data = json.loads(value) if isinstance(value, str | bytes) else value
    return dict(data or {})


def verify_outcome(order_id: str, rows: Iterable[Row[Any]]) -> Outcome:
    """The would-be outcome of one order from its recorded verify answers."""
    facts = [(str(r.context), str(r.operation), _result(r.result), r) for r in rows]
    finish = next(f for f in facts if f[:2] == ("order", "finish"))
    if finish[2].get(INCONCLUSIVE):
        return _inconclusive_outcome(order_id, finish[2], finish[3])
    by_op = {f[:2]: f[2] for f in facts}
    reserve = by_op.get(("inventory", "reserve"), {})
    charge = by_op.get(("payment", "charge"))
    refund = by_op.get(("payment", "refund"), {})
    ship = by_op.get(("shipping", "ship"))
    reservation = None
    if reserve.get("status") == "reserved":
        lines = sorted(
            (ReservationLine(str(x["sku"]), int(x["qty"])) for x in reserve.get("lines", [])),
            key=lambda x: x.sku,
        )
        released = by_op.get(("inventory", "release"), {}).get("status") == "released"
        reservation = Reservation(tuple(lines), released)
    payment = None
    if charge is not None:
        status = "refunded" if refund.get("status") == "refunded" else charge["status"]
        payment = Payment(money(charge["amount"]), status, 1)  # type: ignore[arg-type]
    notes = sorted(
        (str(f[2]["template"]), str(f[2]["recipient"]))
        for f in facts
        if f[:2] == ("email", "notify")
    )
    return Outcome(
        order_id=order_id,
        correlation_id=str(finish[3].correlation_id or ""),
        status=finish[2]["status"],
        total=money(finish[2]["total"]),
        reservation=reservation,
        payment=payment,
        shipment=None if ship is None else Shipment(str(ship["carrier"]), str(ship["status"])),
        notifications=tuple(Notification(t, r) for t, r in notes),
        produced_at=_utc(finish[3].recorded_at),
        source="verify",
    )


def _inconclusive_outcome(order_id: str, finish: dict[str, Any], row: Row[Any]) -> Outcome:
    """An inconclusive run's record: what the finish row says, flagged (the comparators leave
    the key out as ``inconclusive``; its calls got no answer, so nothing else is claimed)."""
    return Outcome(
        order_id=order_id,
        correlation_id=str(row.correlation_id or ""),
        status=finish.get("status") or "failed",
        total=money(finish.get("total") or "0"),
        reservation=None,
        payment=None,
        shipment=None,
        notifications=(),
        produced_at=_utc(row.recorded_at),
        source="verify",
        extra={INCONCLUSIVE: True},
    )


def iter_verify_outcomes(
    db: Engine | str, *, batch_size: int = 1000, include_inconclusive: bool = False
) -> Iterator[Outcome]:
    """One ``verify`` outcome per order verified in ``async`` mode, streamed, grouped by order;
    inconclusive runs only with ``include_inconclusive`` (flagged :data:`INCONCLUSIVE`)."""
    sql = verify_outcomes_sql(_state_schema(db), include_inconclusive=include_inconclusive)
    rows = _stream(db, sql, batch_size)
    for order_id, group in itertools.groupby(rows, key=lambda r: str(r.order_id)):
        yield verify_outcome(order_id, list(group))


def inconclusive_verify_ids(db: Engine | str) -> list[str]:
    """Orders whose verify run was inconclusive (left out of :func:`iter_verify_outcomes`)."""
    query = inconclusive_verify_ids_sql(_state_schema(db))
    return [str(r.order_id) for r in _stream(db, query, 1000)]
