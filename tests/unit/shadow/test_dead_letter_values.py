"""The pure parts of dead letters that cannot stop a worker: a letter cut to a size, the stuck
state of a partition, and the size limit's setting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shadow.config import ShadowConfig
from shadow.dlq import DeadLetter, dlq_headers
from shadow.errors import ShadowConfigError
from shadow.messages import RawMessage
from shadow.stuck import StuckPartitions, stuck_note

T0 = datetime(2026, 12, 6, 13, 0, tzinfo=UTC)


def letter(value: bytes, headers: tuple[tuple[str, bytes | None], ...] = ()) -> DeadLetter:
    original = RawMessage("order", 1, 1348, b"o-1", value, headers, 1_700_000_000_000)
    return DeadLetter(original, "undecodable", "JSONDecodeError", "bad", 1, "shadow.flow")


def test_a_letter_within_the_limit_is_left_whole() -> None:
    small = letter(b"x" * 100)
    assert small.fitted(10_000) is small and not small.truncated


def test_a_letter_over_the_limit_is_cut_to_fit_and_says_so() -> None:
    cut = letter(b"x" * 50_000, (("id", b"e-1"),)).fitted(2_000)
    assert cut.size() <= 2_000 and 0 < len(cut.value or b"") < 2_000
    h = dlq_headers(RawMessage("dlq", 0, 0, b"o-1", cut.value, cut.headers(), 0))
    assert (h["dlq.value.truncated"], h["dlq.original.size"]) == ("true", "50000")
    assert dict(cut.headers())["id"] == b"e-1"


def test_original_headers_that_leave_no_room_are_dropped() -> None:
    cut = letter(b"x" * 5_000, (("trace", b"t" * 3_000),)).fitted(2_000)
    assert cut.slim and cut.size() <= 2_000
    assert "trace" not in dict(cut.headers())


def test_a_partition_is_stuck_once_per_state_and_keeps_its_first_seen_time() -> None:
    stuck = StuckPartitions()
    first = stuck.mark(("order", 1), 1348, "topic missing", T0)
    assert first is not None and first.text == "stuck at order:1@1348: topic missing"
    assert stuck.mark(("order", 1), 1348, "topic missing", T0 + timedelta(seconds=5)) is None
    changed = stuck.mark(("order", 1), 1348, "broker down", T0 + timedelta(seconds=9))
    assert changed is not None and changed.since == T0
    assert stuck_note(changed.note) == changed.note
    assert changed.note.endswith("(since 2026-12-06T13:00:00Z)")


def test_a_stuck_partition_is_forgotten_once_its_offset_moves_past_the_record() -> None:
    stuck = StuckPartitions()
    stuck.mark(("order", 1), 1348, "topic missing", T0)
    assert stuck.passed({("order", 1): 1348}) == []
    [done] = stuck.passed({("order", 1): 1349})
    assert done.offset == 1348 and len(stuck) == 0


def test_metadata_that_is_not_a_stuck_note_is_none() -> None:
    assert stuck_note(None) is None and stuck_note("") is None and stuck_note("x") is None


def test_the_dead_letter_limit_comes_from_the_environment() -> None:
    env = {"CUTOVER_SHADOW_BOOTSTRAP": "k:9092", "CUTOVER_SHADOW_DSN": "dbname=x"}
    assert ShadowConfig.from_env(env).dlq_max_bytes == 900_000
    config = ShadowConfig.from_env({**env, "CUTOVER_SHADOW_DLQ_MAX_BYTES": "500000"})
    assert config.dlq_max_bytes == 500_000


@pytest.mark.parametrize("value", ["lots", "100"])
def test_a_dead_letter_limit_that_is_not_a_size_is_one_clear_error(value: str) -> None:
    env = {"CUTOVER_SHADOW_BOOTSTRAP": "k:9092", "CUTOVER_SHADOW_DSN": "dbname=x"}
    with pytest.raises(ShadowConfigError, match="dlq_max_bytes"):
        ShadowConfig.from_env({**env, "CUTOVER_SHADOW_DLQ_MAX_BYTES": value})
