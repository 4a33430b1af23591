"""Inconclusive verify runs reach the phase-4 gate as keys left out: through the real
comparators-backed comparison port (callable sources defined here), the comparison counts
them ``inconclusive``, the gate's left-out check states the count and, above the plan's
share, makes the gate inconclusive (a rehearsal at 60 orders/s left 341 of 2,700 phase-4
verify runs inconclusive and still passed before)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from legacy_app.outcome import Outcome
from phases.adapters_comparators import ComparatorsRunner
from phases.gates import Verdict, combine, comparison_checks
from phases.plan import parse_plan
from rehearsal.run import inconclusive_left_out

SAMPLE = Path(__file__).resolve().parents[3] / "phases" / "examples" / "sample-plan.yaml"
ENV = {"LEGACY_DATABASE_URL": "postgresql://nobody@localhost:1/never-read"}
KEYS, INCONCLUSIVE = 2700, 341
START = datetime.now(UTC)  # set anew for each test by _start_two_minutes_ago


@pytest.fixture(autouse=True)
def _start_two_minutes_ago() -> None:
    """Outcomes inside the gate's 300 s window and settled, as of the test's own run (not of
    the collection, which a full suite does many minutes earlier)."""
    global START  # noqa: PLW0603 - read by the callables the plan names by path
    START = datetime.now(UTC) - timedelta(seconds=120)


def _outcome(i: int, source: str, **extra: Any) -> Outcome:
    return Outcome(
        order_id=f"o-{i:05d}",
        correlation_id=f"c-{i}",
        status="completed",
        total=Decimal("10.00"),
        reservation=None,
        payment=None,
        shipment=None,
        notifications=(),
        produced_at=START + timedelta(milliseconds=10 * i),
        source=source,  # type: ignore[arg-type]
        extra=extra,
    )


def async_events() -> list[Outcome]:
    """The event path's outcomes of the orders placed in ``async`` (the control)."""
    return [_outcome(i, "event", write_mode="async") for i in range(KEYS)]


def verify_runs() -> list[Outcome]:
    """Every verify run; every seventh of the first 2,387 got no answer (341 inconclusive)."""
    return [
        _outcome(
            i, "verify", **({"inconclusive": True} if i % 7 == 0 and i < 7 * INCONCLUSIVE else {})
        )
        for i in range(KEYS)
    ]


def _plan(tmp_path: Path) -> Any:
    data: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    data["reports_dir"] = str(tmp_path / "reports")
    order = data["contexts"]["order"]
    order["invariants"] = []
    order["outcome"]["verify_callable"] = f"{__name__}:verify_runs"
    order["outcome"]["async_event_callable"] = f"{__name__}:async_events"
    return parse_plan(data)


def test_341_of_2700_inconclusive_verify_runs_make_the_async_gate_inconclusive(
    tmp_path: Path,
) -> None:
    plan = _plan(tmp_path)
    runner = ComparatorsRunner(plan, ENV, tmp_path / "reports")
    summary = runner.compare("order", candidate="verify", window_seconds=300, min_keys=1000)
    assert summary.left_out == {"inconclusive": INCONCLUSIVE}
    assert (summary.settled_keys, summary.matched) == (KEYS - INCONCLUSIVE, KEYS - INCONCLUSIVE)
    spec = plan.gates.async_
    checks = comparison_checks(
        summary,
        min_keys=1000,
        min_match_rate=spec.min_match_rate,
        warn_match_rate=spec.warn_match_rate,
        max_left_out_share=spec.max_left_out_share,
        name="reverse_comparison",
        context="order",
    )
    left = next(c for c in checks if c.name == "reverse_comparison_left_out")
    assert left.verdict is Verdict.INCONCLUSIVE
    assert left.detail == f"left out {INCONCLUSIVE} of {KEYS} keys (inconclusive {INCONCLUSIVE})"
    assert left.observed == round(INCONCLUSIVE / KEYS, 4)
    assert combine(checks) is Verdict.INCONCLUSIVE


def test_under_the_share_the_inconclusive_runs_are_stated_and_do_not_decide(
    tmp_path: Path,
) -> None:
    plan = _plan(tmp_path)
    plan = plan.model_copy(
        update={
            "gates": plan.gates.model_copy(
                update={"async_": plan.gates.async_.model_copy(update={"max_left_out_share": 0.2})}
            )
        }
    )
    summary = ComparatorsRunner(plan, ENV, tmp_path / "reports").compare(
        "order", candidate="verify", window_seconds=300, min_keys=1000
    )
    checks = comparison_checks(
        summary,
        min_keys=1000,
        min_match_rate=0.999,
        warn_match_rate=None,
        max_left_out_share=plan.gates.async_.max_left_out_share,
        name="reverse_comparison",
        context="order",
    )
    left = next(c for c in checks if c.name == "reverse_comparison_left_out")
    assert (left.verdict, left.detail) == (
        Verdict.PASS,
        "left out 341 of 2700 keys (inconclusive 341)",
    )
    assert combine(checks) is not Verdict.INCONCLUSIVE  # the sample's Wilson bound decides


def test_the_rehearsals_phase_4_note_states_the_gates_count(tmp_path: Path) -> None:
    summary = ComparatorsRunner(_plan(tmp_path), ENV, tmp_path / "reports").compare(
        "order", candidate="verify", window_seconds=300, min_keys=1000
    )
    gate = SimpleNamespace(snapshots={"reverse_comparison": {"order": summary.to_dict()}})
    assert inconclusive_left_out(SimpleNamespace(gate=gate), "order") == INCONCLUSIVE
    assert inconclusive_left_out(SimpleNamespace(gate=None), "order") == 0
