from __future__ import annotations

import json

import pytest

from legacy_app.orderflow.processors import KNOWN_TYPES
from legacy_app.orderflow.samples import order_payload, outbox_headers, outbox_value
from shadow.errors import PoisonMessageError
from shadow.messages import InboundEvent, RawMessage, Skipped, decode


def _msg(value: bytes | None, headers: tuple = (), key: bytes | None = b"o-1") -> RawMessage:
    return RawMessage("outbox.event.order", 0, 7, key, value, headers, 1_700_000_000_000)


def test_decodes_an_outbox_router_record() -> None:
    payload = order_payload("o-1")
    ev = decode(
        _msg(outbox_value(payload), outbox_headers("e-1", "order.created", "c-1")), KNOWN_TYPES
    )
    assert isinstance(ev, InboundEvent)
    assert (ev.event_id, ev.event_type, ev.aggregate_id, ev.correlation_id, ev.context) == (
        "e-1",
        "order.created",
        "o-1",
        "c-1",
        "order",
    )
    assert ev.payload == payload


def test_json_converter_quoting_of_key_headers_and_payload_is_undone() -> None:
    payload = order_payload("o-9")
    value = json.dumps(json.dumps(payload)).encode()
    headers = (("id", b'"e-9"'), ("type", b'"order.created"'))
    ev = decode(_msg(value, headers, key=b'"o-9"'), KNOWN_TYPES)
    assert isinstance(ev, InboundEvent)
    assert (ev.event_id, ev.aggregate_id, ev.payload["order_id"]) == ("e-9", "o-9", "o-9")


def test_tombstone_and_snapshot_are_skipped_not_poison() -> None:
    assert isinstance(decode(_msg(None), KNOWN_TYPES), Skipped)
    snap = json.dumps({"op": "r", "source": {"snapshot": "true"}, "after": {}}).encode()
    skipped = decode(_msg(snap, outbox_headers("e-2")), KNOWN_TYPES)
    assert isinstance(skipped, Skipped)
    assert skipped.kind == "snapshot"


@pytest.mark.parametrize(
    ("value", "headers", "kind"),
    [
        (b"{not json", outbox_headers("e-3"), "undecodable"),
        (b"[1, 2]", outbox_headers("e-3"), "undecodable"),
        (b"{}", (), "undecodable"),
        (b"{}", outbox_headers("e-3", "order.exploded"), "unknown_type"),
    ],
)
def test_poison_kinds(value: bytes, headers: tuple, kind: str) -> None:
    with pytest.raises(PoisonMessageError) as info:
        decode(_msg(value, headers), KNOWN_TYPES)
    assert info.value.kind == kind


def test_sequence_header_is_read() -> None:
    headers = (*outbox_headers("e-4"), ("sequence", b"3"))
    ev = decode(_msg(outbox_value(order_payload("o-1")), headers), KNOWN_TYPES)
    assert isinstance(ev, InboundEvent) and ev.sequence == 3
