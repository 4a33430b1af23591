"""Expected event-side outcomes, computed with the in-memory store from the same outbox rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from legacy_app.orderflow.catalogue import initial_stock
from legacy_app.orderflow.changes import Changes
from legacy_app.orderflow.domain import parse_order
from legacy_app.orderflow.effects import RecordingEffects
from legacy_app.orderflow.processors import Coordination, FlowProcessor, FlowScope
from legacy_app.orderflow.store_memory import InMemoryStore
from shadow.messages import InboundEvent


def comparable(outcome: Any) -> dict[str, Any]:
    data = outcome.to_dict()
    data.pop("produced_at")
    data.pop("source")
    return data


def expected_outcomes(
    rows: list[dict[str, Any]], coordination: Coordination = Coordination.CHOREOGRAPHY
) -> tuple[dict[str, dict], InMemoryStore]:
    store = InMemoryStore()
    store.ensure_schema(initial_stock())
    proc = FlowProcessor(RecordingEffects(), coordination=coordination)
    now = datetime.now(UTC)
    with store.transaction() as tx:
        stock = tx.lock_stock(initial_stock())
        batch = Changes()
        for row in rows:
            payload = json.loads(row["payload"])
            ev = InboundEvent(
                row["id"], "order.created", row["aggregateid"], payload, row["correlation_id"]
            )
            changes = Changes()
            proc.apply(ev, parse_order(payload), changes, batch, FlowScope(stock, now))
            batch.merge(changes)
        tx.apply(batch)
    return {o.order_id: comparable(o) for o in store.outcomes()}, store
