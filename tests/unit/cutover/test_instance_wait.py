"""advance / rollback waiting for the application's instances (phases.instances) with fakes,
and the heartbeat table read back on SQLite."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from cutover import InstanceReport, Mode, SqlHeartbeats
from cutover.state.init import upgrade
from phases.errors import InstancesLagging
from phases.instances import (
    InstanceSeen,
    SqlInstanceReports,
    WaitOptions,
    laggards,
    wait_for_instances,
)

ASYNC = {"favorite": Mode.ASYNC}


def seen(instance: str, mode: str, age: float = 1.0) -> InstanceSeen:
    return InstanceSeen(instance, {"favorite": mode, "comment": "dual"}, age)


def test_live_instances_on_another_mode_are_the_laggards() -> None:
    live, behind = laggards(
        [seen("a", "async"), seen("b", "dual"), seen("dead", "dual", age=60)],
        ASYNC,
        live_within=15,
    )
    assert [r.instance_id for r in live] == ["a", "b"]
    assert [(b.instance_id, dict(b.wrong)) for b in behind] == [("b", {"favorite": "dual"})]
    assert behind[0].describe(ASYNC) == "b: favorite dual (not async)"


def test_a_context_missing_from_a_report_counts_as_sync() -> None:
    _, behind = laggards([InstanceSeen("a", {}, 0.0)], {"favorite": Mode.SYNC}, live_within=15)
    assert behind == []


class Script:
    """Reports that change over (fake) time: instance b catches up at t >= catch_up."""

    def __init__(self, catch_up: float) -> None:
        self.now = 0.0
        self.catch_up = catch_up

    def reports(self) -> Sequence[InstanceSeen]:
        b = "async" if self.now >= self.catch_up else "dual"
        return [seen("a", "async"), seen("b", b)]

    def sleep(self, s: float) -> None:
        self.now += s


def test_the_wait_ends_when_every_live_instance_reports_the_new_mode() -> None:
    script, lines = Script(catch_up=2.0), list[str]()
    live = wait_for_instances(
        script, ASYNC, WaitOptions(timeout_s=10, poll_s=0.5),
        say=lines.append, clock=lambda: script.now, sleep=script.sleep,
    )  # fmt: skip
    assert live == 2
    assert script.now == 2.0
    assert lines == [
        "waiting for 1 of 2 live instance(s) to run the new modes",
        "2 live instance(s) run the new modes",
    ]


def test_the_wait_names_the_laggards_when_the_timeout_passes() -> None:
    script = Script(catch_up=99)
    with pytest.raises(InstancesLagging) as err:
        wait_for_instances(
            script, ASYNC, WaitOptions(timeout_s=3, poll_s=0.5),
            clock=lambda: script.now, sleep=script.sleep,
        )  # fmt: skip
    assert script.now == 3.0
    assert err.value.laggards == ["b: favorite dual (not async)"]
    assert err.value.exit_code == 10
    assert str(err.value).startswith("1 of 2 live instance(s) still run the old mode after 3s: b:")


def test_no_wait_when_disabled_or_nothing_switched() -> None:
    script = Script(catch_up=99)
    assert wait_for_instances(script, ASYNC, WaitOptions(timeout_s=0)) == 0
    assert wait_for_instances(script, {}, WaitOptions()) == 0


def test_the_heartbeat_table_is_read_back_with_ages(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    upgrade(engine, groups=("app",))
    SqlHeartbeats(engine).beat(
        InstanceReport("app-1", {"favorite": "async"}, datetime.now(UTC), "h", 7)
    )
    [row] = SqlInstanceReports(engine).reports()
    assert (row.instance_id, dict(row.modes), row.host, row.pid) == (
        "app-1", {"favorite": "async"}, "h", 7,
    )  # fmt: skip
    assert 0 <= row.age_s < 5
