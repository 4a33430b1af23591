"""Outbox Event Router messages (recorded from the real stack) decoded into envelopes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cdc.errors import DecodeError
from cdc.outbox import decode_outbox, to_envelope

DATA = Path(__file__).resolve().parents[2] / "data" / "debezium"


def recorded() -> dict:
    return json.loads((DATA / "outbox_event.json").read_text())


def prefix_of(topic: str) -> str:
    return topic.rsplit(".", 1)[0]


def test_recorded_outbox_message_decodes_to_an_outbox_event() -> None:
    rec = recorded()
    event = decode_outbox(
        rec["key"].encode(),
        rec["value"].encode(),
        rec["headers"],
        topic=rec["topic"],
        topic_prefix=prefix_of(rec["topic"]),
        timestamp_ms=rec["timestamp_ms"],
    )
    assert event.aggregate_type == "order"
    assert event.aggregate_id == rec["key"]
    assert event.type == "order.created"
    assert event.payload == {"order_id": rec["key"], "total": "12.50"}
    assert event.correlation_id == "corr-1"
    assert event.causation_id is None
    assert event.id == dict(rec["headers"])["id"]


def test_outbox_event_becomes_an_events_envelope() -> None:
    rec = recorded()
    event = decode_outbox(
        rec["key"],
        rec["value"],
        rec["headers"],
        topic=rec["topic"],
        topic_prefix=prefix_of(rec["topic"]),
        timestamp_ms=rec["timestamp_ms"],
    )
    env = to_envelope(event)
    assert env.id == event.id
    assert env.type == "order.created"
    assert env.subject == rec["key"]
    assert env.source == "/outbox/order"
    assert env.correlation_id == "corr-1"
    assert env.data == event.payload
    assert env.time is not None


def test_unexpanded_json_string_payload_is_decoded() -> None:
    value = json.dumps(json.dumps({"a": 1}))
    event = decode_outbox("k", value, [("id", b"1"), ("type", b"t")], topic="outbox.event.x")
    assert event.payload == {"a": 1}
    assert event.aggregate_type == "x"


def test_missing_id_header_is_a_decode_error_keeping_the_raw_value() -> None:
    with pytest.raises(DecodeError) as info:
        decode_outbox(b"k", b'{"a": 1}', [("type", b"t")], topic="outbox.event.x")
    assert info.value.raw == b'{"a": 1}'
    assert info.value.key == b"k"
