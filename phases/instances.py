"""Waiting until every live application instance runs the modes a transition wrote.

Each instance's mode switch (``cutover.ModeSwitch``) upserts a heartbeat row with the modes
it would use for its next request. After ``advance`` / ``rollback`` wrote the modes,
:func:`wait_for_instances` polls those rows until every *live* instance (a heartbeat
younger than ``live_within``) reports the expected mode of each switched context, or the
timeout passes: then :class:`~phases.errors.InstancesLagging` names the laggards. An
instance that stopped beating is not live (it crashed or was stopped) and is not waited for.

:func:`laggards` is pure; :class:`SqlInstanceReports` reads the table.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

import structlog
from sqlalchemy import Engine, Table, func, select
from sqlalchemy.exc import DBAPIError

from cutover.state.models import InstanceHeartbeatRow
from cutover.state.naming import DEFAULT_SCHEMA, bind
from cutover_common.modes import Mode
from phases.errors import InstancesLagging

if TYPE_CHECKING:
    from phases.runner import Runner, TransitionOutcome

log = structlog.get_logger(__name__)
_BEATS = cast(Table, InstanceHeartbeatRow.__table__)


@dataclass(frozen=True, slots=True)
class InstanceSeen:
    """One heartbeat row as read: its modes and how old it is (by the database's clock)."""

    instance_id: str
    modes: Mapping[str, str]
    age_s: float
    host: str = ""
    pid: int = 0


@dataclass(frozen=True, slots=True)
class Laggard:
    """A live instance still reporting another mode for some switched contexts."""

    instance_id: str
    wrong: Mapping[str, str]
    """``{context: mode it reports}`` for each context not in its expected mode."""

    def describe(self, expected: Mapping[str, Mode]) -> str:
        parts = ", ".join(
            f"{c} {m} (not {expected[c].value})" for c, m in sorted(self.wrong.items())
        )
        return f"{self.instance_id}: {parts}"


class InstanceReports(Protocol):
    """Port: the heartbeat rows of the application's instances."""

    def reports(self) -> Sequence[InstanceSeen]: ...


def laggards(
    reports: Sequence[InstanceSeen], expected: Mapping[str, Mode], *, live_within: float
) -> tuple[list[InstanceSeen], list[Laggard]]:
    """The live instances, and those of them not running ``expected`` (a context missing
    from a report runs ``sync``)."""
    live = [r for r in reports if r.age_s <= live_within]
    behind = []
    for r in live:
        wrong = {
            c: r.modes.get(c, Mode.SYNC.value)
            for c, m in expected.items()
            if r.modes.get(c, Mode.SYNC.value) != m.value
        }
        if wrong:
            behind.append(Laggard(r.instance_id, wrong))
    return live, behind


@dataclass(frozen=True, slots=True)
class WaitOptions:
    """How long ``advance`` / ``rollback`` wait (0: not at all), and how recent a heartbeat
    must be for its instance to count as live."""

    timeout_s: float = 30.0
    live_within_s: float = 15.0
    poll_s: float = 0.5


DEFAULT_WAIT = WaitOptions()


def wait_for_instances(
    source: InstanceReports,
    expected: Mapping[str, Mode],
    options: WaitOptions,
    *,
    say: Callable[[str], None] = lambda _line: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Poll until every live instance runs ``expected``; return how many live instances there
    are. Raises :class:`InstancesLagging` naming the laggards when ``timeout_s`` passes."""
    if not expected or options.timeout_s <= 0:
        return 0
    deadline = clock() + options.timeout_s
    announced = False
    while True:
        live, behind = laggards(source.reports(), expected, live_within=options.live_within_s)
        if not behind:
            say(f"{len(live)} live instance(s) run the new modes")
            return len(live)
        if clock() >= deadline:
            raise InstancesLagging(
                [b.describe(expected) for b in behind], len(live), options.timeout_s
            )
        if not announced:
            say(f"waiting for {len(behind)} of {len(live)} live instance(s) to run the new modes")
            announced = True
        sleep(options.poll_s)


class SqlInstanceReports:
    """:class:`InstanceReports` from ``<schema>.instance_heartbeats`` (ages by the database's
    clock, so the operator's clock does not matter)."""

    def __init__(self, engine: Engine, *, schema: str = DEFAULT_SCHEMA) -> None:
        self.engine = bind(engine, schema)
        c = _BEATS.c
        self._select = select(c.instance_id, c.host, c.pid, c.modes, c.observed_at, func.now())

    def reports(self) -> list[InstanceSeen]:
        with self.engine.connect() as conn:
            rows = conn.execute(self._select).all()
        return [
            InstanceSeen(
                str(r[0]),
                _modes(r[3]),
                max(0.0, (r[5] - r[4]).total_seconds()),
                str(r[1]),
                int(r[2]),
            )
            for r in rows
        ]


def _modes(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in dict(value or {}).items()}


def switched_contexts(outcome: TransitionOutcome) -> list[str]:
    """The contexts whose mode a finished transition (or its auto-revert) wrote."""
    done = {"done": outcome.plan, "reverted": outcome.reverted}.get(outcome.status)
    plans = [done] if done is not None else []
    return sorted({c for p in plans for m in p.moves for c in m.contexts})


def await_transition(
    runner: Runner,
    outcome: TransitionOutcome,
    options: WaitOptions,
    *,
    source: InstanceReports | None = None,
    say: Callable[[str], None] = lambda _line: None,
) -> int:
    """After ``advance`` / ``rollback``: wait until every live instance runs the modes now
    in the table for the contexts the transition switched (see :func:`wait_for_instances`).

    ``source`` defaults to the heartbeat table beside the mode table; with a mode store
    that has no database (test fakes) there is nothing to wait for."""
    contexts = switched_contexts(outcome)
    if not contexts or options.timeout_s <= 0:
        return 0
    if source is None:
        store = runner.ctx.ports.modes
        engine = getattr(store, "engine", None)
        if engine is None:
            return 0
        source = SqlInstanceReports(engine, schema=getattr(store, "schema", DEFAULT_SCHEMA))
    try:
        source.reports()
    except DBAPIError as exc:  # a store from before cutover init: no heartbeats to wait for
        log.warning("instance_heartbeats_unreadable", error=type(exc.orig).__name__)
        say("instance heartbeats unreadable: not waiting for instances (run `cutover init`)")
        return 0
    modes = runner.state().modes
    expected = {c: modes[c] for c in contexts if c in modes}
    return wait_for_instances(source, expected, options, say=say)
