from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from events.envelope import Envelope, decode_headers, schema_uri
from events.errors import EnvelopeDecodeError, OutboxMessageDecodeError
from legacy_app.contracts.domain import OrderCreated

T0 = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
EID = "0b7e2a57-6f3c-4a4e-9d61-3b1a2f0c9e11"


def make(**kw: object) -> Envelope:
    base: dict[str, object] = {
        "id": EID,
        "time": T0,
        "subject": "o-1",
        "correlation_id": "corr-1",
        "causation_id": "cause-1",
    }
    base.update(kw)
    return Envelope.new("order.created", {"order_id": "o-1"}, **base)  # type: ignore[arg-type]


def test_json_round_trip_keeps_every_attribute() -> None:
    env = make()
    assert Envelope.from_json(env.to_json()) == env


def test_to_json_is_deterministic_and_uses_cloudevents_names() -> None:
    env = make()
    obj = json.loads(env.to_json())
    assert env.to_json() == make().to_json()
    assert obj["specversion"] == "1.0"
    assert obj["correlationid"] == "corr-1"
    assert obj["causationid"] == "cause-1"
    assert obj["dataversion"] == 1
    assert obj["dataschema"] == "urn:cutover:schema:order.created:1"
    assert obj["time"] == "2026-11-26T12:00:00Z"
    assert obj["datacontenttype"] == "application/json"


def test_from_json_accepts_underscore_spellings() -> None:
    raw = json.dumps(
        {
            "id": "1",
            "source": "/s",
            "type": "t",
            "correlation_id": "c",
            "causation_id": "x",
            "data": {},
        }
    )
    env = Envelope.from_json(raw)
    assert (env.correlation_id, env.causation_id, env.version, env.time) == ("c", "x", None, None)


def test_new_without_correlation_starts_a_conversation() -> None:
    env = Envelope.new("order.created", {})
    assert env.correlation_id == env.id
    assert uuid.UUID(env.id).version == 4
    assert env.time is not None and env.time.tzinfo is not None


def test_caused_by_copies_correlation_and_sets_causation() -> None:
    parent = make()
    child = Envelope.new("inventory.reserved", {}, caused_by=parent)
    assert child.correlation_id == "corr-1"
    assert child.causation_id == parent.id


def test_of_takes_type_version_and_subject_from_payload(order_created: OrderCreated) -> None:
    env = Envelope.of(order_created, correlation_id="c")
    assert (env.type, env.version, env.subject) == ("order.created", 1, "o-1")
    assert env.data == order_created.to_dict()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"source": "/s", "type": "t"}', "'id'"),
        (b'{"id": "1", "source": "/s", "type": "t", "specversion": "0.3"}', "specversion"),
        (b'{"id": "1", "source": "/s", "type": "t", "data": [1]}', "data must be"),
        (b'{"id": "1", "source": "/s", "type": "t", "time": "yesterday"}', "ISO 8601"),
        (b'{"id": "1", "source": "/s", "type": "t", "dataversion": "x"}', "version"),
    ],
)
def test_from_json_errors_keep_raw_input(raw: bytes, reason: str) -> None:
    with pytest.raises(EnvelopeDecodeError) as info:
        Envelope.from_json(raw)
    assert info.value.raw == raw
    assert reason in info.value.reason


def test_kafka_headers_are_bytes_and_skip_missing() -> None:
    headers = make(causation_id=None).to_kafka_headers()
    assert headers == [
        ("id", EID.encode()),
        ("type", b"order.created"),
        ("correlation_id", b"corr-1"),
        ("version", b"1"),
    ]


def test_kafka_message_round_trip_through_outbox_decoder() -> None:
    env = make()
    key, value, headers = env.to_kafka_message()
    assert key == b"o-1"
    back = Envelope.from_outbox_message(key, value, headers, source=env.source, time=T0)
    assert back == env


def test_outbox_message_with_plain_payload_and_dict_headers() -> None:
    env = Envelope.from_outbox_message(
        "o-9",
        b'{"order_id": "o-9"}',
        {"id": b"e-1", "type": b"order.created", "correlation_id": b"c-1", "causation_id": None},
    )
    assert (env.id, env.type, env.subject, env.correlation_id, env.causation_id) == (
        "e-1",
        "order.created",
        "o-9",
        "c-1",
        None,
    )
    assert env.data == {"order_id": "o-9"}
    assert env.version is None


def test_outbox_message_with_double_encoded_payload() -> None:
    value = json.dumps(json.dumps({"order_id": "o-9"})).encode()
    env = Envelope.from_outbox_message(b"o-9", value, [("id", b"e"), ("type", b"order.created")])
    assert env.data == {"order_id": "o-9"}


def test_outbox_message_with_schema_wrapper_and_quoted_headers() -> None:
    value = json.dumps({"schema": {"type": "string"}, "payload": '{"order_id": "o-9"}'}).encode()
    env = Envelope.from_outbox_message(
        b'"o-9"', value, [("id", b'"e-1"'), ("type", b'"order.created"')]
    )
    assert (env.id, env.type, env.subject, env.data) == (
        "e-1",
        "order.created",
        "o-9",
        {"order_id": "o-9"},
    )


@pytest.mark.parametrize(
    ("value", "headers", "reason"),
    [
        (b"{}", [("type", b"order.created")], "header 'id' missing"),
        (b"{}", [("id", b"e")], "header 'type' missing"),
        (None, [("id", b"e"), ("type", b"t")], "tombstone"),
        (b"{oops", [("id", b"e"), ("type", b"t")], "not JSON"),
        (b"[1]", [("id", b"e"), ("type", b"t")], "not a JSON object"),
        (b"{}", [("id", b"e"), ("type", b"t"), ("version", b"v2")], "version"),
    ],
)
def test_outbox_message_errors_keep_the_whole_message(
    value: bytes | None, headers: list[tuple[str, bytes]], reason: str
) -> None:
    with pytest.raises(OutboxMessageDecodeError) as info:
        Envelope.from_outbox_message(b"k", value, headers)
    err = info.value
    assert (err.key, err.value, err.headers, err.raw) == (b"k", value, headers, value)
    assert reason in err.reason


def test_outbox_row_round_trip() -> None:
    env = make().with_aggregate_version(2)
    row = env.to_outbox_row("order")
    assert row == {
        "id": uuid.UUID(EID),
        "aggregatetype": "order",
        "aggregateid": "o-1",
        "type": "order.created",
        "payload": {"order_id": "o-1"},
        "correlation_id": "corr-1",
        "causation_id": "cause-1",
        "aggregate_version": 2,
    }
    back = Envelope.from_outbox_row({**row, "created_at": T0})
    assert (back.id, back.source, back.subject, back.time, back.data) == (
        EID,
        "/outbox/order",
        "o-1",
        T0,
        {"order_id": "o-1"},
    )
    assert (back.correlation_id, back.causation_id) == ("corr-1", "cause-1")
    assert back.aggregate_version == 2


def test_recorded_debezium_message_has_aggregate_version_1() -> None:
    path = Path(__file__).resolve().parents[2] / "data" / "debezium" / "outbox_event.json"
    rec = json.loads(path.read_text())
    env = Envelope.from_outbox_message(rec["key"], rec["value"], rec["headers"])
    assert (env.type, env.aggregate_version) == ("order.created", 1)


def test_unversioned_outbox_row_has_no_aggregate_version() -> None:
    row = make().to_outbox_row("order")
    assert row["aggregate_version"] is None
    assert Envelope.from_outbox_row({**row, "aggregate_version": 0}).aggregate_version is None
    assert Envelope.from_outbox_row(row).aggregate_version is None


def test_aggregate_version_travels_as_a_decimal_header_and_back() -> None:
    env = make().with_aggregate_version(2)
    key, value, headers = env.to_kafka_message()
    assert ("aggregate_version", b"2") in headers
    back = Envelope.from_outbox_message(key, value, headers, source=env.source, time=T0)
    assert back == env and back.aggregate_version == 2


def test_aggregate_version_survives_structured_json() -> None:
    env = make().with_aggregate_version(3)
    assert json.loads(env.to_json())["aggregateversion"] == 3
    assert Envelope.from_json(env.to_json()) == env
    raw = json.dumps({"id": "1", "source": "/s", "type": "t", "aggregate_version": "4"})
    assert Envelope.from_json(raw).aggregate_version == 4


@pytest.mark.parametrize("header", [b"0", b""])
def test_a_zero_or_empty_aggregate_version_header_means_unversioned(header: bytes) -> None:
    headers = [("id", b"e"), ("type", b"t"), ("aggregate_version", header)]
    assert Envelope.from_outbox_message(b"k", b"{}", headers).aggregate_version is None


def test_a_non_numeric_aggregate_version_header_is_a_decode_error() -> None:
    headers = [("id", b"e"), ("type", b"t"), ("aggregate_version", b"two")]
    with pytest.raises(OutboxMessageDecodeError) as info:
        Envelope.from_outbox_message(b"k", b"{}", headers)
    assert "aggregate version" in info.value.reason


@pytest.mark.parametrize("bad", [0, -1, True])
def test_with_aggregate_version_refuses_non_positive_versions(bad: int) -> None:
    with pytest.raises(ValueError, match="aggregate version"):
        make().with_aggregate_version(bad)


def test_outbox_row_with_text_payload_and_naive_time() -> None:
    row = {
        "id": "e-1",
        "aggregatetype": "order",
        "aggregateid": "o-1",
        "type": "order.created",
        "payload": '{"a": 1}',
        "created_at": "2026-11-26T12:00:00",
    }
    env = Envelope.from_outbox_row(row)
    assert env.data == {"a": 1}
    assert env.time == T0


def test_outbox_row_missing_column_raises_with_row() -> None:
    with pytest.raises(EnvelopeDecodeError) as info:
        Envelope.from_outbox_row({"id": "e"})
    assert info.value.raw == {"id": "e"}


def test_with_data_changes_version_and_schema() -> None:
    env = make().with_data({"x": 1}, 2)
    assert (env.data, env.version, env.dataschema) == ({"x": 1}, 2, schema_uri("order.created", 2))


def test_decode_headers_last_wins_and_drops_none() -> None:
    assert decode_headers([("a", b"1"), ("a", b"2"), ("b", None)]) == {"a": "2"}
    assert decode_headers(None) == {}


class FakeMessage:
    """Stands in for confluent_kafka.Message (same accessor methods)."""

    def __init__(
        self, key: bytes | None, value: bytes | None, headers: list, ts: tuple[int, int]
    ) -> None:  # type: ignore[type-arg]
        self._parts = (key, value, headers, ts)

    def key(self) -> bytes | None:
        return self._parts[0]

    def value(self) -> bytes | None:
        return self._parts[1]

    def headers(self) -> list:  # type: ignore[type-arg]
        return self._parts[2]

    def timestamp(self) -> tuple[int, int]:
        return self._parts[3]


def test_from_confluent_message_uses_the_message_timestamp() -> None:
    env = make()
    key, value, headers = env.to_kafka_message()
    msg = FakeMessage(key, value, headers, (1, int(T0.timestamp() * 1000)))
    back = Envelope.from_confluent_message(msg, source=env.source)
    assert back == env


def test_from_confluent_message_without_timestamp_has_no_time() -> None:
    msg = FakeMessage(b"k", b"{}", [("id", b"e"), ("type", b"t")], (0, -1))
    assert Envelope.from_confluent_message(msg).time is None


def test_from_confluent_message_error_keeps_the_message() -> None:
    msg = FakeMessage(b"k", b"{oops", [("id", b"e"), ("type", b"t")], (0, -1))
    with pytest.raises(OutboxMessageDecodeError) as info:
        Envelope.from_confluent_message(msg)
    assert info.value.kafka_message is msg
