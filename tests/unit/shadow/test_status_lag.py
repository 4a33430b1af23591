"""``shadow status`` counts lag from the log start: records retention (or ``delete_records``)
removed before the group read them are ``expired``, not lag; lag is stated in ms too."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from rich.console import Console

from comparators.position import PartitionPosition, PipelinePosition
from shadow.cli import print_status
from shadow.commands import lag_section
from shadow.kafka import PartitionLag

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_partition_lag_counts_from_the_log_start_and_names_the_deleted_records() -> None:
    behind_retention = PartitionLag("t", 0, committed=4, high=10, log_start=7)
    assert (behind_retention.lag, behind_retention.expired) == (3, 3)
    caught_up = PartitionLag("t", 1, committed=10, high=10, log_start=7)
    assert (caught_up.lag, caught_up.expired) == (0, 0)
    never_committed = PartitionLag("t", 2, committed=-1001, high=10, log_start=7)
    assert (never_committed.lag, never_committed.expired) == (3, 0)


def _positions() -> dict[str, list[PipelinePosition]]:
    oldest = NOW - timedelta(seconds=12)
    parts = (
        PartitionPosition(0, 4, 7, 10, oldest),  # 3 deleted unread, 3 behind
        PartitionPosition(1, 5, 0, 5),  # caught up
    )
    return {"g": [PipelinePosition("t", "g", NOW, parts, members=2)]}


def test_status_lag_section_has_lag_from_the_log_start_expired_and_ms() -> None:
    section = lag_section(_positions())
    assert section["lag"]["g"][0] == {
        "topic": "t",
        "partition": 0,
        "committed": 4,
        "log_start": 7,
        "high": 10,
        "lag": 3,
        "expired": 3,
    }
    assert section["groups"]["g"] == {
        "lag_messages": 3,
        "lag_ms": 12000.0,
        "expired": 3,
        "members": 2,
    }
    assert (section["total_lag"], section["total_expired"], section["lag_ms"]) == (3, 3, 12000.0)


def test_nothing_behind_is_zero_ms_and_unknown_members_stay_unknown() -> None:
    parts = (PartitionPosition(0, 5, 0, 5),)
    section = lag_section({"g": [PipelinePosition("t", "g", NOW, parts, members=None)]})
    assert section["groups"]["g"]["lag_ms"] == 0.0
    assert section["groups"]["g"]["members"] is None


def test_the_status_table_says_events_expired() -> None:
    out = io.StringIO()
    data = {
        **lag_section(_positions()),
        "dead_lettered": 0,
        "dead_letter_topic": "g.dlq",
        "anomalies": {},
    }
    print_status(data, Console(file=out, width=160))
    text = out.getvalue()
    assert "g: lag 3 message(s), 12000 ms; members 2" in text
    assert "g: 3 event(s) expired: deleted from Kafka before the group read them" in text
    assert "log start" in text


def test_the_status_names_where_a_group_is_stuck() -> None:
    out = io.StringIO()
    note = "stuck at order:1@1348: dead letter not produced to g.dlq: [UNKNOWN_TOPIC_OR_PART]"
    data = {
        **lag_section(_positions()),
        "stuck": {"g": [note]},
        "dead_lettered": 0,
        "dead_letter_topic": "g.dlq",
        "anomalies": {},
    }
    print_status(data, Console(file=out, width=200))
    assert f"g: {note}" in out.getvalue()
