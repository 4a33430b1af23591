"""Dead letters as an operator sees them (pure): the letter, filters, coordinates, and the
acknowledgement arithmetic the purge and the gate share."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shadow.dlq import DeadLetter
from shadow.dlq_commands import whole_original
from shadow.dlq_ops import (
    Coordinates,
    DlqAck,
    InMemoryAckLog,
    Letter,
    LetterFilter,
    acknowledged,
    deletable_up_to,
    is_acknowledged,
    merge,
    ranges_of,
    unacknowledged,
)
from shadow.dlq_payloads import DeadLetterPayload, InMemoryDeadLetterPayloads
from shadow.errors import ShadowConfigError
from shadow.messages import RawMessage

T0 = 1_767_000_000_000  # ms


def letter(
    offset: int = 0,
    *,
    partition: int = 0,
    kind: str = "handler_error",
    message: str = "KeyError: 'sku'",
    event_type: str = "article.favorited",
    at_ms: int = T0,
    extra: tuple[tuple[str, bytes], ...] = (),
) -> Letter:
    original = RawMessage(
        "app.article", 2, 40 + offset, b"a1", b'{"article_id": "a1"}',
        (("id", b"e-1"), ("type", event_type.encode())), T0 - 5,
    )  # fmt: skip
    dead = DeadLetter(original, kind, "KeyError", message, 3, "favorites")
    headers = (*dead.headers(), *extra)
    return Letter.from_raw(
        RawMessage("g.dlq", partition, offset, b"a1", original.value, headers, at_ms)
    )


def test_a_letter_keeps_its_origin_reason_and_the_original_headers_only() -> None:
    x = letter(3)
    assert (x.consumer, x.origin, x.kind, x.error_class, x.attempts) == (
        "favorites", "app.article:2@43", "handler_error", "KeyError", 3,
    )  # fmt: skip
    assert x.event_type == "article.favorited" and x.event_id == "e-1"
    assert all(not k.startswith("dlq.") for k, _v in x.headers)
    assert x.original() == RawMessage(
        "app.article", 2, 43, b"a1", b'{"article_id": "a1"}', x.headers, T0 - 5
    )
    assert (x.size, x.truncated, x.claim_check) == (20, False, None)


def test_a_truncated_letter_names_its_claim_check_and_original_size() -> None:
    x = letter(extra=(
        ("dlq.value.truncated", b"true"), ("dlq.original.size", b"5000000"),
        ("dlq.claim_check", b"favorites/app.article:2@40"),
    ))  # fmt: skip
    assert (x.truncated, x.size, x.claim_check) == (True, 5_000_000, "favorites/app.article:2@40")
    assert x.original(b"whole").value == b"whole"


def test_the_filter_selects_by_kind_reason_type_and_time() -> None:
    x = letter(at_ms=T0)
    at = datetime.fromtimestamp(T0 / 1000, UTC)
    assert LetterFilter().matches(x)
    assert LetterFilter(kinds=("handler_error", "undecodable")).matches(x)
    assert not LetterFilter(kinds=("undecodable",)).matches(x)
    assert LetterFilter(reason="keyerror").matches(x)
    assert not LetterFilter(reason="timeout").matches(x)
    assert not LetterFilter(types=("article.unfavorited",)).matches(x)
    assert LetterFilter(since=at, until=at.replace(second=at.second + 1)).matches(x)
    assert not LetterFilter(until=at).matches(x)  # until is exclusive
    assert not LetterFilter(consumers=("other",)).matches(x)


def test_coordinates_name_the_original_record_or_the_dead_letter_record() -> None:
    x = letter(3, partition=1)
    assert Coordinates.parse("app.article:2@43").matches(x)
    assert Coordinates.parse("1@3").matches(x)
    assert Coordinates.parse("g.dlq:1@3").matches(x)
    assert not Coordinates.parse("2@43").matches(x)


@pytest.mark.parametrize("text", ["", "app.article", "1:2", "a@b", "x:1@-3"])
def test_bad_coordinates_are_one_config_error(text: str) -> None:
    with pytest.raises(ShadowConfigError, match="PARTITION@OFFSET"):
        Coordinates.parse(text)


def test_offsets_become_merged_ranges_per_partition() -> None:
    assert ranges_of([(0, 5), (0, 3), (0, 4), (1, 9), (0, 7)]) == {
        0: [(3, 6), (7, 8)],
        1: [(9, 10)],
    }
    assert merge({0: [(0, 2)]}, {0: [(2, 4), (6, 7)]}) == {0: [(0, 4), (6, 7)]}


def test_unacknowledged_counts_past_the_phase_start_less_the_acknowledged() -> None:
    marks = {0: (2, 10), 1: (0, 4)}
    assert unacknowledged(marks, {}) == 12
    assert unacknowledged(marks, {0: [(2, 10)], 1: [(0, 4)]}) == 0
    assert unacknowledged(marks, {0: [(0, 5)]}) == 9  # a range before the log start counts once
    assert unacknowledged(marks, {}, since={0: 8, 1: 4}) == 2  # only what came since
    assert unacknowledged(marks, {0: [(8, 9)]}, since={0: 8}) == 5


def test_delete_records_stops_at_the_first_unacknowledged_record() -> None:
    assert deletable_up_to(2, [(0, 5), (7, 9)]) == 5
    assert deletable_up_to(2, [(3, 5)]) == 2  # offset 2 is not acknowledged: nothing
    assert deletable_up_to(2, [(2, 3), (3, 6)]) == 6
    assert deletable_up_to(4, []) == 4


def test_an_ack_round_trips_through_its_audit_detail() -> None:
    ack = DlqAck(
        "g.dlq", {0: [(1, 3)], 2: [(0, 1)]}, 3, "purge", "ops@host",
        LetterFilter(kinds=("undecodable",)).to_dict(), {0: 3},
        datetime(2026, 12, 6, tzinfo=UTC),
    )  # fmt: skip
    assert DlqAck.from_dict(ack.to_dict()) == ack


def test_acknowledged_unions_the_acks_of_one_topic() -> None:
    log = InMemoryAckLog()
    log.record(DlqAck("g.dlq", {0: [(0, 2)]}, 2, "purge"))
    log.record(DlqAck("h.dlq", {0: [(5, 6)]}, 1, "purge"))
    log.record(DlqAck("g.dlq", {0: [(2, 3)]}, 1, "replay"))
    acked = acknowledged(log.acks("g.dlq"), "g.dlq")
    assert acked == {0: [(0, 3)]}
    assert is_acknowledged(acked, 0, 2) and not is_acknowledged(acked, 0, 3)


def test_a_truncated_letter_is_replayed_and_shown_from_its_claim_check() -> None:
    payloads = InMemoryDeadLetterPayloads()
    whole = DeadLetterPayload(
        "favorites", "app.article", 2, 40, b"a1", b'{"whole": true}', (("id", b"e-1"),)
    )
    check = payloads.store(whole)
    cut = (("dlq.value.truncated", b"true"), ("dlq.claim_check", check.encode()))
    record = whole_original(letter(extra=cut), payloads)
    assert record == RawMessage(
        "app.article", 2, 40, b"a1", b'{"whole": true}', (("id", b"e-1"),), T0 - 5
    )
    assert whole_original(letter(extra=cut), InMemoryDeadLetterPayloads()) is None  # not found
    assert whole_original(letter(), None) == letter().original()  # not truncated: as kept
