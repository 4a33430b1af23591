"""The event side's outcome records, read from the shadow store.

:data:`OUTCOME_SQL` is the query (schema ``shadow``) the comparators may run
themselves; :func:`event_outcomes` runs it and yields
:class:`legacy_app.outcome.Outcome` records with ``source="event"``. Only finished
orders (``completed`` or ``failed``) have an outcome: a pending order is simply
not there yet, which the comparators classify with their settle window.

Mapping rules (the same the sync side applies to the legacy tables):
reservation lines aggregated per SKU, ordered by SKU, ``released`` when the
reservation was compensated, ``None`` when nothing was reserved (out of stock);
payment ``None`` when no charge was attempted; shipment ``None`` unless shipped;
notifications ordered by template; ``produced_at`` is when the shadow path
finished the order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from legacy_app.orderflow.schema import DEFAULT_SCHEMA, checked_schema
from legacy_app.orderflow.store import outcome_from_row
from legacy_app.outcome import Outcome


def outcome_sql(schema: str = DEFAULT_SCHEMA) -> str:
    """The outcome query for ``schema``; parameter ``order_ids`` (text[] or NULL for all)."""
    s = checked_schema(schema)
    return f"""
SELECT o.order_id, o.correlation_id, o.status, o.total,
       coalesce(o.finished_at, o.updated_at) AS produced_at,
       (SELECT json_agg(json_build_object('sku', r.sku, 'qty', r.qty, 'released', r.released)
                        ORDER BY r.sku)
          FROM {s}.reservations r WHERE r.order_id = o.order_id) AS reservation,
       p.amount, p.status AS payment_status, p.attempts,
       sh.carrier, sh.status AS shipment_status,
       (SELECT json_agg(json_build_object('template', n.template, 'recipient', n.recipient)
                        ORDER BY n.template, n.recipient)
          FROM {s}.notifications n WHERE n.order_id = o.order_id) AS notifications
  FROM {s}.order_status o
  LEFT JOIN {s}.payments p ON p.order_id = o.order_id
  LEFT JOIN {s}.shipments sh ON sh.order_id = o.order_id
 WHERE o.status IN ('completed', 'failed')
   AND (%(order_ids)s::text[] IS NULL OR o.order_id = ANY(%(order_ids)s::text[]))
 ORDER BY o.order_id
"""


OUTCOME_SQL = outcome_sql(DEFAULT_SCHEMA)


def event_outcomes(
    dsn: str, order_ids: Sequence[str] | None = None, *, schema: str = DEFAULT_SCHEMA
) -> Iterator[Outcome]:
    """Yield the event-side outcome of each finished order (all, or those in ``order_ids``)."""
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor(row_factory=dict_row) as cur:
        params: dict[str, Any] = {"order_ids": list(order_ids) if order_ids is not None else None}
        cur.execute(outcome_sql(schema), params)
        for row in cur:
            yield outcome_from_row(row)
