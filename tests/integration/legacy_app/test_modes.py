"""Modes on the real stack: outbox atomicity, naive produce and its loss, async, events-only."""

from __future__ import annotations

import time

import requests
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, NewTopic
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from cutover.state.models import VerifyResultRow as VerifyResult
from cutover_common.modes import Mode
from events.envelope import Envelope
from legacy_app.models import Order, OutboxEvent, PaymentRecord
from legacy_app.outcomes import (
    INCONCLUSIVE_VERIFY_IDS_SQL,
    inconclusive_verify_ids,
    iter_verify_outcomes,
)
from tests.integration.topics import ensure_topics
from tests.support.cutover_state import count_blocked_sync_calls, write_mode


def count(engine, model) -> int:
    with Session(engine) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def consume(bootstrap: str, topic: str, group: str, want: int, seconds: float) -> list[Envelope]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    got: list[Envelope] = []
    deadline = time.monotonic() + seconds
    try:
        while len(got) < want and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            got.append(Envelope.from_outbox_message(msg.key(), msg.value(), msg.headers()))
    finally:
        consumer.close()
    return got


def test_dual_commit_failure_leaves_neither_order_nor_outbox_row(start_app) -> None:
    app = start_app()
    write_mode(app.engine, "order", Mode.DUAL)
    with app.engine.begin() as conn:  # a trigger that only fires at COMMIT
        conn.execute(text(
            "CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'commit refused by test'; END $$"
        ))  # fmt: skip
        conn.execute(text(
            "CREATE CONSTRAINT TRIGGER refuse_commit AFTER INSERT ON outbox "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_commit()"
        ))  # fmt: skip
    cid = app.customer()
    resp = app.order(cid, [("SKU-0001", 1)])
    assert resp.status_code == 503 and resp.json()["error"] == "order not stored"
    assert count(app.engine, Order) == 0 and count(app.engine, OutboxEvent) == 0
    assert count(app.engine, PaymentRecord) == 0  # the flow never started

    with app.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse_commit ON outbox"))
    ok = app.order(cid, [("SKU-0001", 1)])
    assert ok.status_code == 201
    with Session(app.engine) as s:
        rows = s.scalars(select(OutboxEvent).order_by(OutboxEvent.created_at)).all()
    assert [r.type for r in rows] == ["order.created", "order.completed"]
    assert {r.aggregateid for r in rows} == {ok.json()["id"]}


def test_modes_flip_at_request_time(start_app, endpoints, unique) -> None:
    prefix = f"legacy{unique}"
    app = start_app(CUTOVER_OUTBOX_TOPIC_PREFIX=prefix)
    cid = app.customer()

    sync = app.order(cid, [("SKU-0010", 1)])
    assert sync.status_code == 201 and count(app.engine, OutboxEvent) == 0

    write_mode(app.engine, "order", Mode.DUAL)
    dual = app.order(cid, [("SKU-0010", 1)], headers={"X-Correlation-ID": f"dual-{unique}"})
    with Session(app.engine) as s:
        rows = s.scalars(select(OutboxEvent).order_by(OutboxEvent.created_at)).all()
    assert [(r.type, r.aggregateid, r.correlation_id) for r in rows] == [
        ("order.created", dual.json()["id"], f"dual-{unique}"),
        ("order.completed", dual.json()["id"], f"dual-{unique}"),
    ]
    assert rows[0].payload["total"] == "17.50" and rows[0].payload["currency"] == "EUR"
    # written by cutover.emit: the write-time mode stamped, the finish caused by the creation
    assert [r.mode for r in rows] == ["dual", "dual"]
    assert (rows[0].aggregate_version, rows[1].aggregate_version) == (1, 2)
    assert rows[1].causation_id == str(rows[0].id)

    write_mode(app.engine, "order", Mode.NAIVE_DUAL)  # produces to the context's topic,
    ensure_topics(endpoints.bootstrap_servers, {f"{prefix}.order": 1})  # which phase 2 creates
    naive = app.order(cid, [("SKU-0011", 2)], headers={"X-Correlation-ID": f"naive-{unique}"})
    assert naive.status_code == 201 and count(app.engine, OutboxEvent) == 2
    events = consume(endpoints.bootstrap_servers, f"{prefix}.order", f"g-{unique}", 2, 30)
    assert [(e.type, e.subject, e.correlation_id) for e in events] == [
        ("order.created", naive.json()["id"], f"naive-{unique}"),
        ("order.completed", naive.json()["id"], f"naive-{unique}"),
    ]
    assert events[0].data["items"] == [{"sku": "SKU-0011", "qty": 2, "unit_price": "18.75"}]

    for ctx in ("order", "inventory", "payment", "shipping", "email"):
        write_mode(app.engine, ctx, Mode.ASYNC)
    payments_before = count(app.engine, PaymentRecord)
    accepted = app.order(cid, [("SKU-0012", 1)], "card_declined")
    assert accepted.status_code == 202 and accepted.json()["status"] == "accepted"
    assert count(app.engine, PaymentRecord) == payments_before  # verify only
    [would] = list(iter_verify_outcomes(app.engine))
    assert (would.order_id, would.status, would.source) == (
        accepted.json()["id"],
        "failed",
        "verify",
    )
    assert would.payment is not None and would.payment.status == "declined"
    assert would.reservation is not None and would.reservation.released

    for ctx in ("order", "inventory", "payment", "shipping", "email"):
        write_mode(app.engine, ctx, Mode.EVENTS_ONLY)
    verified_before = count(app.engine, VerifyResult)
    gone = app.order(cid, [("SKU-0013", 1)])
    assert gone.status_code == 202
    assert count(app.engine, VerifyResult) == verified_before
    assert count_blocked_sync_calls(app.engine) == 0
    with Session(app.engine) as s:
        last = s.scalars(
            select(OutboxEvent).where(OutboxEvent.aggregateid == gone.json()["id"])
        ).all()
    assert [(r.type, r.mode) for r in last] == [("order.created", "events-only")]
    AdminClient({"bootstrap.servers": endpoints.bootstrap_servers}).delete_topics(
        [f"{prefix}.order"]
    )


def test_naive_dual_crash_between_commit_and_produce_loses_the_event(
    start_app, endpoints, unique
) -> None:
    prefix = f"crash{unique}"
    topic = f"{prefix}.order"
    admin = AdminClient({"bootstrap.servers": endpoints.bootstrap_servers})
    for fut in admin.create_topics(
        [NewTopic(topic, num_partitions=1, replication_factor=1)]
    ).values():
        fut.result(15)
    app = start_app(CUTOVER_OUTBOX_TOPIC_PREFIX=prefix, CUTOVER_FAULT_CRASH_BEFORE_PRODUCE="1")
    write_mode(app.engine, "order", Mode.NAIVE_DUAL)
    cid = app.customer()
    try:
        resp = app.order(cid, [("SKU-0020", 1)])
        crashed = resp.status_code >= 500
    except requests.ConnectionError:
        crashed = True
    assert crashed
    with Session(app.engine) as s:
        [order] = s.scalars(select(Order)).all()
    assert order.status == "completed"  # the whole order committed ...
    assert (
        consume(endpoints.bootstrap_servers, topic, f"g-{unique}", 1, 5) == []
    )  # ... never published
    admin.delete_topics([topic])


def test_a_verify_run_a_downstream_left_unanswered_is_inconclusive_on_postgres(start_app) -> None:
    app = start_app(CUTOVER_FAULT_PAYMENT_ERROR_RATE="1")
    cid = app.customer()
    for ctx in ("order", "inventory", "payment", "shipping", "email"):
        write_mode(app.engine, ctx, Mode.ASYNC)
    blind = app.order(cid, [("SKU-0021", 1)])
    assert blind.status_code == 202, blind.text

    assert inconclusive_verify_ids(app.engine) == [blind.json()["id"]]
    assert list(iter_verify_outcomes(app.engine)) == []
    with app.engine.connect() as conn:  # the event side's filter (rehearsal.sources)
        kept = conn.execute(
            text(f"SELECT id FROM orders WHERE id NOT IN ({INCONCLUSIVE_VERIFY_IDS_SQL})")
        ).all()
    assert kept == []
