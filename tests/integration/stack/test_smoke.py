"""The foundation's end-to-end smoke: outbox row → Debezium Outbox Event Router → Kafka."""

from __future__ import annotations

from rehearsal.smoke import run_smoke
from rehearsal.stack.endpoints import Endpoints


def test_outbox_row_arrives_on_the_aggregate_topic_keyed_by_aggregate_id(
    endpoints: Endpoints,
) -> None:
    result = run_smoke(endpoints)

    assert result.topic.endswith(".order")
    assert result.key.startswith("order-")
    assert result.payload == {"order_id": result.key, "total": "42.50"}
    assert len(result.event_id) == 36
    assert result.headers["type"] == "order.created"
    assert result.headers["correlation_id"].startswith("corr-")
    assert result.headers["causation_id"].startswith("cause-")
