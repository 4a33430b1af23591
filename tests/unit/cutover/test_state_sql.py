"""The SQL adapters of the mode switch and the ledger on cutover's tables (SQLite here, the
real Postgres in tests/integration/cutover/test_modes_runner_stack.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from cutover import InstanceReport, SqlHeartbeats, SqlLedger, SqlModeTable, VerifyRecord
from cutover.modes import HeartbeatSink, MemoryHeartbeats
from cutover.state.init import upgrade
from cutover.verify import BlockedCall


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    upgrade(engine, groups=("app",))
    return engine


def report(instance: str, mode: str) -> InstanceReport:
    return InstanceReport(instance, {"favorite": mode}, datetime.now(UTC), "host-a", 42)


class HeartbeatContract:
    """What every heartbeat sink does (the fake and the table alike)."""

    def sink(self, engine: Engine) -> HeartbeatSink:
        raise NotImplementedError

    def rows(self, sink: HeartbeatSink) -> dict[str, dict[str, str]]:
        raise NotImplementedError

    def test_a_beat_upserts_one_row_per_instance(self, engine: Engine) -> None:
        sink = self.sink(engine)
        sink.beat(report("a", "dual"))
        sink.beat(report("b", "dual"))
        sink.beat(report("a", "async"))
        assert self.rows(sink) == {"a": {"favorite": "async"}, "b": {"favorite": "dual"}}

    def test_forget_removes_only_that_instance(self, engine: Engine) -> None:
        sink = self.sink(engine)
        sink.beat(report("a", "dual"))
        sink.beat(report("b", "dual"))
        sink.forget("a")
        sink.forget("nobody")
        assert list(self.rows(sink)) == ["b"]


class TestMemoryHeartbeats(HeartbeatContract):
    def sink(self, engine: Engine) -> HeartbeatSink:
        return MemoryHeartbeats()

    def rows(self, sink: HeartbeatSink) -> dict[str, dict[str, str]]:
        assert isinstance(sink, MemoryHeartbeats)
        return {r.instance_id: dict(r.modes) for r in sink.reports()}


class TestSqlHeartbeats(HeartbeatContract):
    def sink(self, engine: Engine) -> HeartbeatSink:
        return SqlHeartbeats(engine)

    def rows(self, sink: HeartbeatSink) -> dict[str, dict[str, str]]:
        assert isinstance(sink, SqlHeartbeats)
        with sink.engine.connect() as conn:
            found = conn.execute(text("SELECT instance_id, modes FROM instance_heartbeats"))
            return {i: json.loads(m) for i, m in sorted(found)}


def test_the_mode_table_reads_every_context(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO context_modes (context, mode) VALUES ('favorite', 'async')"))
    assert SqlModeTable(engine).read_modes() == {"favorite": "async"}


def test_the_ledger_writes_verify_results_and_blocked_calls_in_the_tables_shape(
    engine: Engine,
) -> None:
    ledger = SqlLedger(engine)
    ledger.record_verify(
        VerifyRecord("favorite", "notify", "a-1", "dry-run", {"sent": 1}, correlation_id="c-1")
    )
    ledger.record_verify(
        VerifyRecord("favorite", "finish", "a-1", "dry-run", inconclusive=True, reason="timeout")
    )
    ledger.record_blocked(BlockedCall("favorite", "notify", "a-2", "c-2"))
    with engine.connect() as conn:
        verify = conn.execute(
            text("SELECT business_key, operation, correlation_id, inconclusive FROM verify_results")
        ).all()
        blocked = conn.execute(
            text("SELECT context, operation, business_key, correlation_id FROM blocked_calls")
        ).all()
    assert [tuple(r) for r in verify] == [
        ("a-1", "notify", "c-1", 0),
        ("a-1", "finish", "", 1),
    ]
    assert [tuple(r) for r in blocked] == [("favorite", "notify", "a-2", "c-2")]
