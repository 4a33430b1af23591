"""Decoding of REAL Debezium messages recorded from the local stack (tests/data/debezium)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cdc.decode import (
    UNAVAILABLE,
    ChangeEvent,
    Heartbeat,
    MessageEvent,
    Tombstone,
    TransactionEvent,
    decode,
)
from cdc.errors import DecodeError

DATA = Path(__file__).resolve().parents[2] / "data" / "debezium"


def recorded(case: str) -> dict[str, Any]:
    return json.loads((DATA / f"{case}.json").read_text())


def decoded(case: str) -> Any:
    rec = recorded(case)
    value = None if rec["value"] is None else rec["value"].encode()
    key = None if rec["key"] is None else rec["key"].encode()
    return decode(value, key=key, topic=rec["topic"])


def test_snapshot_read_is_op_r_and_a_snapshot() -> None:
    event = decoded("snapshot_read")
    assert isinstance(event, ChangeEvent)
    assert event.op == "r"
    assert event.is_snapshot
    assert event.source.is_snapshot
    assert event.before is None
    assert event.after is not None and event.after["id"] in (1, 2)


def test_create_carries_after_and_source_position() -> None:
    event = decoded("create")
    assert isinstance(event, ChangeEvent)
    assert event.op == "c"
    assert not event.is_snapshot
    assert event.after == {"id": 3, "name": "plum", "qty": 7, "price": event.after["price"]}
    assert event.source.table == "items" and event.source.schema == "public"
    assert isinstance(event.source.lsn, int) and event.source.lsn > 0
    assert isinstance(event.source.tx_id, int) and event.source.tx_id > 0
    assert isinstance(event.source.ts_ms, int) and event.ts_ms is not None
    assert event.key == {"id": 3}


def test_update_without_before_image_counts_every_known_column_as_changed() -> None:
    event = decoded("update")
    assert isinstance(event, ChangeEvent)
    assert event.op == "u"
    assert event.before is None  # REPLICA IDENTITY DEFAULT
    assert event.after is not None and event.after["qty"] == 8
    assert event.after["price"] == "1.05"  # decimal.handling.mode=string (the builder's default)
    assert event.changed_columns() == frozenset({"id", "name", "qty", "price"})


def test_delete_has_before_and_no_after() -> None:
    event = decoded("delete")
    assert isinstance(event, ChangeEvent)
    assert event.op == "d"
    assert event.after is None
    assert event.before is not None and event.before["id"] == 2
    assert event.row["id"] == 2


def test_tombstone_keeps_the_key() -> None:
    event = decoded("tombstone")
    assert event == Tombstone({"id": 2}, recorded("tombstone")["topic"])


def test_unavailable_toast_value_is_unknown_not_a_change() -> None:
    event = decoded("toast_update")
    assert isinstance(event, ChangeEvent)
    assert event.after is not None
    assert event.after["body"] is UNAVAILABLE
    assert event.unavailable_columns() == frozenset({"body"})
    assert "body" not in event.changed_columns()
    assert event.changed_columns() == frozenset({"id", "title"})
    assert event.known_after() == {"id": 1, "title": "renamed"}


def test_unavailable_value_is_filled_from_the_previous_row() -> None:
    event = decoded("toast_update")
    assert isinstance(event, ChangeEvent)
    merged = event.merged_after({"id": 1, "title": "first", "body": "long text"})
    assert merged == {"id": 1, "title": "renamed", "body": "long text"}


def test_logical_decoding_message_is_op_m_with_content() -> None:
    event = decoded("message")
    assert isinstance(event, MessageEvent)
    assert event.prefix == "cutover"
    assert event.content == b"hello"
    assert event.source.lsn is not None


def test_transaction_metadata_begin_and_end() -> None:
    begin = decoded("transaction_begin")
    end = decoded("transaction_end")
    assert isinstance(begin, TransactionEvent) and isinstance(end, TransactionEvent)
    assert begin.status == "BEGIN" and end.status == "END"
    assert end.event_count is not None and end.event_count >= 1
    assert all(count >= 1 for _, count in end.data_collections)


def test_heartbeat_record() -> None:
    event = decoded("heartbeat")
    assert isinstance(event, Heartbeat)
    assert event.ts_ms is not None and event.ts_ms > 1_600_000_000_000


@pytest.mark.parametrize(
    ("plain", "with_schema"),
    [
        ("snapshot_read", "schema_snapshot_read"),
        ("create", "schema_create"),
        ("update", "schema_update"),
        ("delete", "schema_delete"),
        ("toast_update", "schema_toast_update"),
    ],
)
def test_schema_envelope_decodes_to_the_same_op_and_columns(plain: str, with_schema: str) -> None:
    a, b = decoded(plain), decoded(with_schema)
    assert isinstance(a, ChangeEvent) and isinstance(b, ChangeEvent)
    assert a.op == b.op
    assert set(a.row) == set(b.row)
    assert b.key == a.key if a.op != "r" else True


def test_schema_envelope_decodes_decimals_with_their_scale() -> None:
    event = decoded("schema_update")
    assert isinstance(event, ChangeEvent) and event.after is not None
    assert event.after["price"] == Decimal("1.05")
    create = decoded("schema_create")
    assert isinstance(create, ChangeEvent) and create.after is not None
    assert create.after["price"] == Decimal("0.99")


def test_schema_envelope_marks_unavailable_toast_value() -> None:
    event = decoded("schema_toast_update")
    assert isinstance(event, ChangeEvent)
    assert event.unavailable_columns() == frozenset({"body"})


def test_string_and_bytes_values_decode_alike() -> None:
    rec = recorded("create")
    assert decode(rec["value"], key=rec["key"]) == decode(
        rec["value"].encode(), key=rec["key"].encode()
    )


def test_undecodable_message_keeps_the_raw_bytes() -> None:
    raw = b'{"op": "u", "after": {"id": 1}'
    with pytest.raises(DecodeError) as info:
        decode(raw, key=b'{"id":1}', topic="t.public.x")
    assert info.value.raw == raw
    assert info.value.key == b'{"id":1}'
    assert info.value.topic == "t.public.x"


def test_unknown_record_shape_is_a_decode_error_with_raw() -> None:
    raw = json.dumps({"hello": "world"}).encode()
    with pytest.raises(DecodeError) as info:
        decode(raw)
    assert info.value.raw == raw
    assert "unknown Debezium record" in info.value.reason


def test_change_event_without_source_is_a_decode_error() -> None:
    raw = json.dumps({"op": "c", "after": {"id": 1}}).encode()
    with pytest.raises(DecodeError) as info:
        decode(raw)
    assert info.value.raw == raw
