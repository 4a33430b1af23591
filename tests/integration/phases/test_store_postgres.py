"""The state store on the real Postgres: schema, modes table, audit trail, advisory lock, crash."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from cutover_common.modes import Mode
from phases.errors import TransitionInterrupted, TransitionLocked
from phases.fakes import FakeShadow, fake_ports
from phases.runner import Runner
from phases.store import SqlModeStore, StateStore

REPO = Path(__file__).resolve().parents[3]


def test_schema_is_idempotent_and_modes_table_matches_the_shared_ddl(pg_store: StateStore) -> None:
    pg_store.initialise()
    modes = SqlModeStore(pg_store.engine)
    modes.set_modes({"payment": Mode.DUAL, "order": Mode.SYNC}, actor="alice")
    modes.set_modes({"payment": Mode.ASYNC}, actor="bob")
    assert modes.get_modes() == {"payment": Mode.ASYNC, "order": Mode.SYNC}
    with pg_store.engine.connect() as conn:
        row = conn.execute(
            text("SELECT mode, updated_by FROM cutover.context_modes WHERE context = 'payment'")
        ).one()
    assert tuple(row) == ("async", "bob")
    with pytest.raises(IntegrityError), pg_store.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO cutover.context_modes (context, mode) VALUES ('x', 'turbo')")
        )


def test_audit_is_append_only_on_postgres(
    make_pg_runner: Callable[..., Runner], pg_store: StateStore
) -> None:
    make_pg_runner().advance(target=2)
    assert [e.to_phase for e in pg_store.history(action="advance")] == [2, 1]
    with pytest.raises(DBAPIError, match="append-only"), pg_store.engine.begin() as conn:
        conn.execute(text("UPDATE cutover.audit SET verdict = 'pass'"))
    with pytest.raises(DBAPIError, match="append-only"), pg_store.engine.begin() as conn:
        conn.execute(text("DELETE FROM cutover.audit"))
    assert pg_store.phase() == 2


def test_advisory_lock_refuses_a_second_connection(pg_url: str, pg_store: StateStore) -> None:
    other = StateStore.from_url(pg_url)
    try:
        with (
            pg_store.transition_lock("alice"),
            pytest.raises(TransitionLocked),
            other.transition_lock("bob"),
        ):
            pass
        with (
            other.transition_lock("bob"),
            pytest.raises(TransitionLocked),
            pg_store.transition_lock("alice"),
        ):
            pass
    finally:
        other.engine.dispose()


def test_two_concurrent_advances_on_postgres_one_is_locked(
    make_pg_runner: Callable[..., Runner], pg_store: StateStore
) -> None:
    first = make_pg_runner("alice@test")
    shadow: FakeShadow = first.ctx.ports.shadow  # type: ignore[assignment]
    second = make_pg_runner("bob@test")
    first.advance(target=2)
    inside, release = threading.Event(), threading.Event()
    original = shadow.start

    def slow(contexts: Sequence[str]) -> None:
        inside.set()
        assert release.wait(20)
        original(contexts)

    shadow.start = slow  # type: ignore[method-assign]
    results: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: results.setdefault("first", first.advance()))
    thread.start()
    assert inside.wait(20)
    with pytest.raises(TransitionLocked) as info:
        second.advance()
    assert info.value.holder == "alice@test"
    release.set()
    thread.join(20)
    assert results["first"].phase == 3
    assert pg_store.phase() == 3
    assert [e.to_phase for e in pg_store.history(action="advance")] == [3, 2, 1]
    assert set(SqlModeStore(pg_store.engine).get_modes().values()) == {Mode.DUAL}


CHILD = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from phases.context import StepContext
    from phases.fakes import fake_ports
    from phases.plan import load_plan
    from phases.runner import Runner, StoreDrillLog
    from phases.steps import default_graph
    from phases.store import SqlModeStore, StateStore

    store = StateStore.from_url(os.environ["PHASES_TEST_URL"])
    ports = fake_ports(SqlModeStore(store.engine))
    ports.shadow.start = lambda contexts: os._exit(9)  # the process dies mid-forward
    ctx = StepContext(plan=load_plan(sys.argv[1]), ports=ports, actor="crashing@test",
                      drills=StoreDrillLog(store, "crashing@test"))
    Runner(store=store, ctx=ctx, graph=default_graph(), reports_dir=Path(sys.argv[2])).advance()
    """
)


def test_killed_process_leaves_a_resumable_transition(
    make_pg_runner: Callable[..., Runner], pg_store: StateStore, pg_url: str, tmp_path: Path
) -> None:
    runner = make_pg_runner("alice@test")
    runner.advance(target=2)
    env = {**os.environ, "PHASES_TEST_URL": pg_url, "PYTHONPATH": str(REPO)}
    sample = REPO / "phases" / "examples" / "sample-plan.yaml"
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(sample), str(tmp_path / "r")],
        env=env,
        cwd=REPO,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 9, proc.stderr.decode()[-2000:]
    journal = pg_store.journal()
    assert journal is not None
    assert (journal.from_phase, journal.to_phase, journal.stage, journal.actor) == (
        2,
        3,
        "forward:3",
        "crashing@test",
    )
    survivor = make_pg_runner("bob@test", fake_ports(SqlModeStore(pg_store.engine)))  # type: ignore[arg-type]
    with pytest.raises(TransitionInterrupted):
        survivor.advance()  # the advisory lock died with the process; the journal did not
    outcome = survivor.advance(resume=True)
    assert (outcome.status, outcome.phase) == ("done", 3)
    assert pg_store.journal() is None
    assert set(SqlModeStore(pg_store.engine).get_modes().values()) == {Mode.DUAL}
    last = pg_store.history(1, action="advance")[0]
    assert (last.from_phase, last.to_phase, last.actor) == (2, 3, "bob@test")
