"""The mode switch with in-memory fakes: cache, outages, heartbeats, thread-safety."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

import pytest
from structlog.testing import capture_logs

from cutover import HeartbeatOptions, Mode, ModeSwitch, Outbox
from cutover.modes import (
    READ_FAILURES,
    MemoryHeartbeats,
    StaticModes,
    process_instance_id,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def switch(
    reader: StaticModes, clock: Clock, sink: MemoryHeartbeats | None = None, **kw: object
) -> ModeSwitch:
    return ModeSwitch(
        reader,
        ttl=1.0,
        clock=clock,
        heartbeats=sink,
        heartbeat=HeartbeatOptions(every=0.01, instance_id="app-1"),
        **kw,  # type: ignore[arg-type]
    )


def test_a_read_is_reused_within_the_ttl_and_refreshed_after_it() -> None:
    reader, clock = StaticModes({"favorite": "dual"}), Clock()
    modes = switch(reader, clock)
    assert modes.mode("favorite") is Mode.DUAL
    reader.set("favorite", "async")
    clock.now += 0.5
    assert modes.mode("favorite") is Mode.DUAL
    assert reader.reads == 1
    clock.now += 0.6
    assert modes.mode("favorite") is Mode.ASYNC
    assert reader.reads == 2


def test_a_context_without_a_row_runs_the_default() -> None:
    modes = switch(StaticModes({"favorite": "dual"}), Clock(), default="dual")
    assert modes.mode("comment") is Mode.DUAL
    assert switch(StaticModes(), Clock()).mode("comment") is Mode.SYNC


def test_an_unreadable_table_keeps_the_last_value_logs_once_and_counts_each_failure() -> None:
    reader, clock = StaticModes({"favorite": "async"}), Clock()
    modes = switch(reader, clock)
    assert modes.mode("favorite") is Mode.ASYNC
    reader.failing = True
    before = READ_FAILURES._value.get()
    with capture_logs() as logs:
        for _ in range(3):
            clock.now += 2
            assert modes.mode("favorite") is Mode.ASYNC
    assert READ_FAILURES._value.get() - before == 3
    assert [e["event"] for e in logs] == ["modes_unreadable"]
    reader.failing = False
    reader.set("favorite", "events-only")
    clock.now += 2
    with capture_logs() as logs:
        assert modes.mode("favorite") is Mode.EVENTS_ONLY
    assert [e["event"] for e in logs] == ["modes_readable_again"]


def test_before_any_successful_read_the_configured_default_is_used() -> None:
    reader = StaticModes({"favorite": "async"})
    reader.failing = True
    modes = switch(reader, Clock(), default="dual")
    assert modes.mode("favorite") is Mode.DUAL


def test_an_invalid_mode_in_the_table_counts_as_unreadable() -> None:
    reader, clock = StaticModes({"favorite": "dual"}), Clock()
    modes = switch(reader, clock)
    modes.mode("favorite")
    reader.modes["favorite"] = "sideways"
    clock.now += 2
    assert modes.mode("favorite") is Mode.DUAL


def test_the_outbox_provider_stamps_the_contexts_current_mode() -> None:
    reader, clock = StaticModes({"favorite": "dual"}), Clock()
    modes = switch(reader, clock)
    outbox = Outbox(mode=modes.provider("favorite"))
    row = outbox.row("article", "a-1", "article.favorited", {"slug": "a-1"})
    assert row["mode"] == "dual"


def test_a_heartbeat_reports_the_modes_the_instance_would_use_now() -> None:
    reader, clock, sink = StaticModes({"favorite": "dual"}), Clock(), MemoryHeartbeats()
    modes = switch(reader, clock, sink)
    modes.mode("favorite")
    reader.set("favorite", "async")
    clock.now += 2  # the cache expired: the heartbeat reads again
    assert modes.beat() is True
    assert sink.rows["app-1"].modes == {"favorite": "async"}


def test_a_heartbeat_that_cannot_be_written_returns_false_and_logs_once() -> None:
    sink = MemoryHeartbeats()
    sink.failing = True
    modes = switch(StaticModes({"favorite": "dual"}), Clock(), sink)
    with capture_logs() as logs:
        assert modes.beat() is False
        assert modes.beat() is False
    assert [e["event"] for e in logs] == ["mode_heartbeat_failed"]


def test_the_heartbeat_thread_beats_until_stopped_and_then_forgets_the_instance() -> None:
    sink = MemoryHeartbeats()
    modes = ModeSwitch(
        StaticModes({"favorite": "dual"}),
        heartbeats=sink,
        heartbeat=HeartbeatOptions(every=0.01, instance_id="app-1"),
    ).start()
    deadline = time.monotonic() + 2
    while "app-1" not in sink.rows and time.monotonic() < deadline:
        time.sleep(0.005)
    assert sink.rows["app-1"].modes == {"favorite": "dual"}
    modes.stop()
    assert sink.rows == {}


def test_the_process_instance_id_is_stable_within_a_process() -> None:
    assert process_instance_id() == process_instance_id()
    assert ModeSwitch(StaticModes()).instance_id == process_instance_id()


class SlowReader:
    """Reads take 50 ms; counts concurrent reads."""

    def __init__(self) -> None:
        self.active = 0
        self.most = 0
        self.lock = threading.Lock()

    def read_modes(self) -> Mapping[str, str]:
        with self.lock:
            self.active += 1
            self.most = max(self.most, self.active)
        time.sleep(0.05)
        with self.lock:
            self.active -= 1
        return {"favorite": "async"}


def test_one_thread_refreshes_while_the_others_keep_the_value_they_have() -> None:
    reader, clock = SlowReader(), Clock()
    modes = ModeSwitch(reader, ttl=1.0, clock=clock)
    assert modes.mode("favorite") is Mode.ASYNC
    clock.now += 2
    seen: list[Mode] = []
    threads = [
        threading.Thread(target=lambda: seen.append(modes.mode("favorite"))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [Mode.ASYNC] * 8
    assert reader.most == 1


@pytest.mark.parametrize("mode", list(Mode))
def test_every_mode_value_is_read(mode: Mode) -> None:
    assert switch(StaticModes({"c": mode}), Clock()).mode("c") is mode
