"""A gate's comparisons start at the time the context entered its current mode: after a
revert and a re-advance, the keys written in ``sync`` before the re-advance are not in the
dual-write gate's window (so they do not make it inconclusive through its left-out share),
while a key written in ``sync`` after it (an app instance on a stale cached mode) is still
counted out of scope. Through the real comparators-backed port over callable sources."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from comparators.commands import window_start
from cutover_common.modes import Mode
from legacy_app.outcome import Outcome
from phases.adapters_comparators import ComparatorsRunner
from phases.context import DrillRecord, StepContext
from phases.fakes import InMemoryModeStore, fake_ports
from phases.gates import Verdict
from phases.plan import parse_plan
from phases.steps import phase3_dual_write

SAMPLE = Path(__file__).resolve().parents[3] / "phases" / "examples" / "sample-plan.yaml"
ENV = {"LEGACY_DATABASE_URL": "postgresql://nobody@localhost:1/never-read"}
NOW = datetime.now(UTC)  # both set anew for each test by _now_is_the_tests_run
RE_ADVANCED = NOW - timedelta(seconds=90)


@pytest.fixture(autouse=True)
def _now_is_the_tests_run() -> None:
    """The gate reads the real clock: times relative to the test's own run, not to the
    collection, which a full suite does many minutes earlier."""
    global NOW, RE_ADVANCED  # noqa: PLW0603
    NOW = datetime.now(UTC)
    RE_ADVANCED = NOW - timedelta(seconds=90)


BEFORE, AFTER, STALE = 60, 200, 1


def _outcome(i: int, at: datetime, source: str, **extra: Any) -> Outcome:
    return Outcome(
        order_id=f"o-{i:05d}",
        correlation_id=f"c-{i}",
        status="completed",
        total=Decimal("10.00"),
        reservation=None,
        payment=None,
        shipment=None,
        notifications=(),
        produced_at=at,
        source=source,  # type: ignore[arg-type]
        extra=extra,
    )


def sync_side() -> list[Outcome]:
    """60 orders placed in sync after the revert, 200 in dual after the re-advance, and one
    placed in sync after the re-advance by an instance whose cached mode was stale."""
    before = [
        _outcome(i, RE_ADVANCED - timedelta(seconds=100 - i), "sync", write_mode="sync")
        for i in range(BEFORE)
    ]
    after = [
        _outcome(
            BEFORE + i, RE_ADVANCED + timedelta(seconds=5 + i * 0.3), "sync", write_mode="dual"
        )
        for i in range(AFTER)
    ]
    stale = [_outcome(9999, RE_ADVANCED + timedelta(seconds=20), "sync", write_mode="sync")]
    return [*before, *after, *stale]


def event_side() -> list[Outcome]:
    """The shadow pipeline's outcome of every order placed in dual (none for sync ones)."""
    return [
        _outcome(BEFORE + i, RE_ADVANCED + timedelta(seconds=5 + i * 0.3), "event")
        for i in range(AFTER)
    ]


class _NoDrills:
    def last_drill(self, context: str) -> DrillRecord | None:
        return None

    def record_drill(self, context: str, passed: bool, detail: dict[str, Any]) -> None:
        return None


def _ctx(tmp_path: Path, entered: datetime) -> StepContext:
    data: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    data["reports_dir"] = str(tmp_path / "reports")
    order = data["contexts"]["order"]
    order["invariants"] = []
    order["outcome"]["sync_callable"] = f"{__name__}:sync_side"
    order["outcome"]["event_callable"] = f"{__name__}:event_side"
    data["gates"]["dual_write"].update(
        {"min_settled_keys": 100, "min_match_rate": 0.95, "warn_match_rate": 0.9}
    )
    plan = parse_plan(data)
    modes = InMemoryModeStore(clock=lambda: entered)
    modes.set_modes({"order": Mode.DUAL}, actor="re-advance")
    ports = dataclasses.replace(
        fake_ports(modes), comparison=ComparatorsRunner(plan, ENV, tmp_path / "reports")
    )
    return StepContext(plan=plan, ports=ports, actor="it@test", drills=_NoDrills())


def _left_out(result: Any) -> Any:
    return next(c for c in result.checks if c.name == "comparison_left_out")


def test_a_gate_after_revert_and_re_advance_judges_from_the_re_advance(tmp_path: Path) -> None:
    result = phase3_dual_write.gate(_ctx(tmp_path, RE_ADVANCED), ["order"])
    left = _left_out(result)
    assert left.verdict is Verdict.PASS
    assert left.detail == f"left out {STALE} of {AFTER + STALE} keys (out_of_scope {STALE})"
    counts = result.snapshots["comparison"]["order"]["counts"]
    assert counts["match"] == AFTER and counts.get("missing", 0) == 0
    assert result.verdict is Verdict.PASS


def test_without_a_recorded_mode_change_the_pre_advance_keys_make_it_inconclusive(
    tmp_path: Path,
) -> None:
    long_ago = NOW - timedelta(days=1)  # the window (300 s) alone decides, as before
    result = phase3_dual_write.gate(_ctx(tmp_path, long_ago), ["order"])
    left = _left_out(result)
    assert left.verdict is Verdict.INCONCLUSIVE
    both = BEFORE + STALE
    assert left.detail == f"left out {both} of {AFTER + both} keys (out_of_scope {both})"


def test_the_window_starts_at_the_later_of_the_look_back_and_the_mode_change() -> None:
    window = timedelta(seconds=300)
    assert window_start(NOW, window, RE_ADVANCED) == RE_ADVANCED
    assert window_start(NOW, window, NOW - timedelta(days=1)) == NOW - window
    assert window_start(NOW, window, None) == NOW - window
    assert window_start(NOW, None, RE_ADVANCED) == RE_ADVANCED
    assert window_start(NOW, None, None) is None


def test_the_async_gate_reads_the_mode_change_before_its_drill_switches_modes(
    tmp_path: Path,
) -> None:
    from phases.fakes import FakeComparison
    from phases.steps import phase4_async

    ticks = iter([RE_ADVANCED, NOW - timedelta(seconds=2), NOW - timedelta(seconds=1)])
    modes = InMemoryModeStore(clock=lambda: next(ticks))
    modes.set_modes({"order": Mode.ASYNC}, actor="advance")  # entered async at RE_ADVANCED
    ctx = _ctx(tmp_path, RE_ADVANCED)
    ports = dataclasses.replace(fake_ports(modes), comparison=FakeComparison())
    ctx = dataclasses.replace(ctx, ports=ports)
    phase4_async.gate(ctx, ["order"])  # the drill sets dual, then async again
    comparison = ports.comparison
    assert isinstance(comparison, FakeComparison)
    assert comparison.calls == [("order", "event"), ("order", "verify")]
    assert comparison.since == [None, RE_ADVANCED]
    assert modes.entered_at()["order"] == NOW - timedelta(seconds=1)
