"""Outbox Event Router messages (recorded from the real stack) decoded into envelopes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cdc.errors import DecodeError
from cdc.outbox import OutboxEvent, decode_outbox, to_envelope
from events.envelope import Envelope

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
    assert event.aggregate_version == 1


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
    assert env.aggregate_version == 1


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


def decode_recorded(headers: list[tuple[str, bytes | str | None]]) -> OutboxEvent:
    rec = recorded()
    return decode_outbox(
        rec["key"], rec["value"], headers, topic=rec["topic"], topic_prefix=prefix_of(rec["topic"])
    )


def test_the_recorded_version_matches_what_the_events_envelope_reads() -> None:
    rec = recorded()
    headers = [(k, None if v is None else v.encode()) for k, v in rec["headers"]]
    via_cdc = to_envelope(decode_recorded(headers))
    direct = Envelope.from_outbox_message(rec["key"].encode(), rec["value"].encode(), headers)
    assert via_cdc.aggregate_version == direct.aggregate_version == 1


def test_a_row_without_the_version_column_decodes_unversioned() -> None:
    """``table.field.additional.missing=ignore``: an old outbox table sends no header."""
    headers = [(k, v) for k, v in recorded()["headers"] if k != "aggregate_version"]
    event = decode_recorded(headers)
    assert event.aggregate_version is None
    assert to_envelope(event).aggregate_version is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [(b"0", None), (b"", None), ("0", None), (b"2", 2), ("17", 17), (b'"3"', 3)],
)
def test_aggregate_version_header_values(header: bytes | str, expected: int | None) -> None:
    """``0`` is the column's default for writers that do not know the version (a repair)."""
    headers = [(k, v) for k, v in recorded()["headers"] if k != "aggregate_version"]
    event = decode_recorded([*headers, ("aggregate_version", header)])
    assert event.aggregate_version == expected
    assert to_envelope(event).aggregate_version == expected


@pytest.mark.parametrize("header", [b"two", b"-1", b"1.5", "\u0661"])
def test_a_bad_aggregate_version_header_is_a_decode_error(header: bytes | str) -> None:
    rec = recorded()
    with pytest.raises(DecodeError, match="aggregate_version") as info:
        decode_outbox(
            rec["key"],
            rec["value"],
            [("id", b"1"), ("type", b"t"), ("aggregate_version", header)],
            topic="outbox.event.order",
        )
    assert info.value.raw == rec["value"].encode()
