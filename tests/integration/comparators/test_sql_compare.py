"""Comparators against the real Postgres of the local stack (no mocks)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from datetime import timedelta
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb
from sqlalchemy import create_engine

from comparators import commands
from comparators.diff import Scope, compare
from comparators.errors import WatermarksNotInitialised
from comparators.outbox import PostgresOutbox
from comparators.partition import Partition, all_partitions
from comparators.rules import CompareOptions
from comparators.sources import OutcomeSource, ReadWindow, SqlSource
from comparators.watch import PostgresWatermarkStore, WatchState, watch_step
from cutover.state.init import upgrade
from legacy_app.repair import order_payload
from rehearsal.stack.endpoints import Endpoints
from tests.support.plans import SAMPLE_RULES, full_plan, load_config
from tests.unit.comparators.factories import LATER, T0, record
from tests.unit.comparators.source_contract import SourceContract

pytestmark = pytest.mark.integration

SAMPLE_OPTIONS = CompareOptions(
    decimals=("total", "payment.amount"),
    unordered=("reservation.lines", "notifications"),
    key="order_id",
)
"""The sample's rules (its plan states them: no default names its fields)."""

N = 2000
BAD = 1234
DDL = """
CREATE TABLE {name} (
    order_id text NOT NULL, correlation_id text, status text, total numeric(12,2),
    reservation jsonb, payment jsonb, shipment jsonb, notifications jsonb,
    produced_at timestamptz NOT NULL, source text
)
"""
OUTBOX_DDL = """
CREATE TABLE outbox (id uuid PRIMARY KEY, aggregatetype varchar(255) NOT NULL,
    aggregateid varchar(255) NOT NULL, type varchar(255) NOT NULL, payload jsonb NOT NULL,
    correlation_id varchar(255), causation_id varchar(255),
    created_at timestamptz NOT NULL DEFAULT now())
"""
COLUMNS = (
    "order_id",
    "correlation_id",
    "status",
    "total",
    "reservation",
    "payment",
    "shipment",
    "notifications",
    "produced_at",
    "source",
)


def insert(dsn: str, table: str, rows: Sequence[dict[str, Any]]) -> None:
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(DDL.format(name=table))
        with cur.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(
                    [
                        Jsonb(r[c])
                        if c in ("reservation", "payment", "shipment", "notifications")
                        else r[c]
                        for c in COLUMNS
                    ]
                )


def rounding_rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    control, candidate = [], []
    for i in range(1, N + 1):
        at = T0 + timedelta(milliseconds=10 * i)
        control.append(record(i, at=at))
        candidate.append(record(i, at=at + timedelta(milliseconds=300), source="event"))
    raw = Decimal("10.005")
    good, bad = (
        raw.quantize(Decimal("0.01"), ROUND_HALF_UP),
        raw.quantize(Decimal("0.01"), ROUND_HALF_EVEN),
    )
    control[BAD - 1]["total"] = str(good)
    control[BAD - 1]["payment"]["amount"] = str(good)
    candidate[BAD - 1]["total"] = str(
        bad
    )  # the event side rounded half-even: 10.00 instead of 10.01
    candidate[BAD - 1]["payment"]["amount"] = str(good)
    return control, candidate


@pytest.fixture
def dsn(endpoints: Endpoints, fresh_database: str) -> str:
    return endpoints.dsn(fresh_database)


@pytest.fixture
def outcome_tables(dsn: str) -> str:
    control, candidate = rounding_rows()
    insert(dsn, "sync_outcomes", control)
    insert(dsn, "event_outcomes", candidate)
    return dsn


PLAN = """
system: {database: {url_env: CMP_TEST_DB}}
contexts:
  order:
    events: [order.created]
    outcome:
      key: order_id
      sync_query: SELECT * FROM sync_outcomes
      event_query: %s
    compare: {settle_seconds: 5, %s}
    invariants:
      - legacy_app.invariants:payment_captured_once
      - legacy_app.invariants:one_shipment_per_paid_order
      - legacy_app.invariants:one_notification_per_order
gates:
  dual_write: {min_settled_keys: 1000, min_match_rate: 0.999, warn_match_rate: 0.99}
"""


def plan_file(
    tmp_path: Path, event_query: str = "SELECT * FROM event_outcomes", kafka: str | None = None
) -> Path:
    """The plan of these tests; ``kafka``: the brokers it names (the stack's, for a command
    that reads the shadow group's position: it finds no such topic at once)."""
    path = tmp_path / "plan.yaml"
    text = PLAN % (event_query, SAMPLE_RULES)
    if kafka:
        text = text.replace("system: {", f"system: {{kafka: {{bootstrap_servers: '{kafka}'}}, ", 1)
    path.write_text(full_plan(text))
    return path


def test_rounding_error_in_one_total_fails_and_report_names_key_and_path(
    outcome_tables: str, endpoints: Endpoints, fresh_database: str, tmp_path: Path
) -> None:
    env = {"CMP_TEST_DB": endpoints.database_url(fresh_database)}
    config = load_config(plan_file(tmp_path), "order", env=env)
    out = tmp_path / "evidence"
    run = commands.run_compare(config, now=LATER, out_dir=out, stdout=io.StringIO())
    assert run.verdict.status == "fail"
    assert run.result.settled == N
    assert dict(run.result.counts) == {"divergent": 1, "match": N - 1}
    assert dict(run.result.paths) == {"total": 1}
    (sample,) = run.result.samples
    assert sample.key == f"ord-{BAD:06d}"
    assert [(d.path, d.control, d.candidate) for d in sample.differences] == [
        ("total", "10.01", "10")
    ]
    doc = json.loads((out / "evidence.json").read_text())
    assert doc["verdict"]["reasons"] == ["divergent keys 1 > max 0"]
    assert doc["result"]["samples"][0]["key"] == f"ord-{BAD:06d}"
    page = (out / "report.html").read_text()
    assert f"ord-{BAD:06d}" in page and "<code>total</code>" in page
    assert "password" not in page and endpoints.pg_password.reveal() not in page


def test_single_json_outcome_column_gives_the_same_result(
    outcome_tables: str, endpoints: Endpoints, fresh_database: str, tmp_path: Path
) -> None:
    env = {"CMP_TEST_DB": endpoints.database_url(fresh_database)}
    query = "SELECT to_jsonb(e) AS outcome FROM event_outcomes e"
    by_json = commands.run_compare(
        load_config(plan_file(tmp_path, query), "order", env=env),
        now=LATER,
        stdout=io.StringIO(),
    )
    by_cols = commands.run_compare(
        load_config(plan_file(tmp_path), "order", env=env),
        now=LATER,
        stdout=io.StringIO(),
    )
    assert by_json.result.counts == by_cols.result.counts
    assert by_json.result.paths == by_cols.result.paths == (("total", 1),)


def test_sql_partitions_equal_python_partitions_and_merge_to_whole(outcome_tables: str) -> None:
    opts = SAMPLE_OPTIONS
    control = SqlSource(
        outcome_tables, "SELECT * FROM sync_outcomes", name="sync", itersize=300, key="order_id"
    )
    candidate = SqlSource(
        outcome_tables, "SELECT * FROM event_outcomes", name="event", itersize=300, key="order_id"
    )
    whole = compare(
        control.observations(ReadWindow()),
        candidate.observations(ReadWindow()),
        opts,
        Scope(now=LATER),
    )
    parts = []
    for part in all_partitions(4):
        keys = [o.key for o in control.observations(ReadWindow(partition=part))]
        assert keys and all(Partition(part.index, 4).contains(k) for k in keys)
        w = ReadWindow(partition=part)
        parts.append(
            compare(
                control.observations(w),
                candidate.observations(w),
                opts,
                Scope(now=LATER, partition=part),
            )
        )
    from comparators.result import merge

    assert merge(parts) == whole


def test_repair_apply_writes_compensating_outbox_rows_once(
    outcome_tables: str, endpoints: Endpoints, fresh_database: str, tmp_path: Path
) -> None:
    with psycopg.connect(outcome_tables) as conn:
        conn.execute(OUTBOX_DDL)
        conn.execute("DELETE FROM event_outcomes WHERE order_id IN ('ord-000010', 'ord-000020')")
    env = {"CMP_TEST_DB": endpoints.database_url(fresh_database)}
    config = load_config(plan_file(tmp_path), "order", env=env)
    writer = PostgresOutbox(outcome_tables)
    sink = io.StringIO()
    plan, written = commands.repair(
        config,
        writer=writer,
        apply=True,
        run_id="t1",
        now=LATER,
        stdout=sink,
        payload=order_payload,  # the sample's: the contract's fields, "total" among them
    )
    assert written == 2 and [e.aggregateid for e in plan.events] == ["ord-000010", "ord-000020"]
    assert [d.key for d in plan.divergent] == [f"ord-{BAD:06d}"]
    _, again = commands.repair(
        config,
        writer=writer,
        apply=True,
        run_id="t1",
        now=LATER,
        stdout=sink,
        payload=order_payload,
    )
    assert again == 0
    with psycopg.connect(outcome_tables) as conn:
        rows = conn.execute(
            "SELECT aggregatetype, aggregateid, type, causation_id, correlation_id, payload->>'total' "
            "FROM outbox ORDER BY aggregateid"
        ).fetchall()
    assert rows == [
        ("order", "ord-000010", "order.created", "repair:t1", "corr-10", "23.75"),
        ("order", "ord-000020", "order.created", "repair:t1", "corr-20", "23.75"),
    ]


def test_dry_run_writes_nothing(
    outcome_tables: str, endpoints: Endpoints, fresh_database: str, tmp_path: Path
) -> None:
    with psycopg.connect(outcome_tables) as conn:
        conn.execute(OUTBOX_DDL)
        conn.execute("DELETE FROM event_outcomes WHERE order_id = 'ord-000010'")
    config = load_config(
        plan_file(tmp_path), "order", env={"CMP_TEST_DB": endpoints.database_url(fresh_database)}
    )
    plan, written = commands.repair(
        config,
        writer=PostgresOutbox(outcome_tables),
        apply=False,
        now=LATER,
        stdout=io.StringIO(),
    )
    assert len(plan.events) == 1 and written == 0
    with psycopg.connect(outcome_tables) as conn:
        assert conn.execute("SELECT count(*) FROM outbox").fetchone() == (0,)


def test_watch_over_sql_with_postgres_watermark(
    outcome_tables: str, endpoints: Endpoints, fresh_database: str
) -> None:
    control = SqlSource(outcome_tables, "SELECT * FROM sync_outcomes", name="sync", key="order_id")
    candidate = SqlSource(
        outcome_tables, "SELECT * FROM event_outcomes", name="event", key="order_id"
    )
    opts = SAMPLE_OPTIONS
    store = PostgresWatermarkStore(outcome_tables)
    with pytest.raises(WatermarksNotInitialised, match="run `cutover init`") as info:
        store.load("order")  # nothing creates the table but `cutover init`
    assert info.value.exit_code == 14
    engine = create_engine(endpoints.database_url(fresh_database))
    upgrade(engine, groups=("state",))
    engine.dispose()
    assert store.load("order") == WatchState()
    mid = T0 + timedelta(seconds=15)  # keys up to 10 s settled (10 ms apart -> 1000 keys)
    step1 = watch_step(control, candidate, opts, store.load("order"), mid)
    store.save("order", step1.state)
    assert step1.increment.settled == 1000 and step1.pending == N - 1000
    step2 = watch_step(control, candidate, opts, store.load("order"), LATER)
    store.save("order", step2.state)
    final = store.load("order")
    assert final.result.settled == N and final.result.count("divergent") == 1
    assert final.watermark == LATER - opts.settle and final.steps == 2


class TestSqlSourceContract(SourceContract):
    @pytest.fixture(autouse=True)
    def _db(self, dsn: str) -> Iterator[None]:
        self.dsn = dsn
        self.n = 0
        yield

    def make_source(self, records: Sequence[dict[str, Any]]) -> OutcomeSource:
        self.n += 1
        table = f"contract_{self.n}"
        insert(self.dsn, table, records)
        return SqlSource(
            self.dsn, f"SELECT * FROM {table};", name="sql", itersize=2, key="order_id"
        )


def test_cli_run_exits_4_and_writes_junit_naming_the_failure(
    outcome_tables: str,
    endpoints: Endpoints,
    fresh_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    from comparators.cli import compare as compare_group
    from cutover_common.logging import configure_logging

    # as the `cutover` entry point does: logs on stderr, so --json owns stdout (structlog's
    # unconfigured default prints to stdout, and an earlier test may have reset it)
    configure_logging(level="WARNING")
    monkeypatch.setenv("CMP_TEST_DB", endpoints.database_url(fresh_database))
    args = [
        "run",
        "--plan",
        str(plan_file(tmp_path, kafka=endpoints.bootstrap_servers)),
        "--context",
        "order",
        "--now",
        LATER.isoformat(),
    ]
    result = CliRunner().invoke(compare_group, [*args, "--out", str(tmp_path / "ev"), "--json"])
    assert result.exit_code == 4, result.output
    assert json.loads(result.stdout)["counts"]["divergent"] == 1
    junit_xml = (tmp_path / "ev" / "junit.xml").read_text()
    assert 'name="divergent_keys"' in junit_xml and "divergent keys 1 &gt; max 0" in junit_xml
    assert endpoints.pg_password.reveal() not in result.output


def _sources(
    dsn: str, event_query: str = "SELECT * FROM event_outcomes"
) -> tuple[SqlSource, SqlSource]:
    return (
        SqlSource(dsn, "SELECT * FROM sync_outcomes", name="sync", itersize=500, key="order_id"),
        SqlSource(dsn, event_query, name="event", itersize=500, key="order_id"),
    )


@pytest.mark.parametrize(
    "event_query",
    ["SELECT * FROM event_outcomes", "SELECT to_jsonb(e) AS outcome FROM event_outcomes e"],
)
def test_digest_pushdown_gives_the_same_result_as_reading_rows(
    outcome_tables: str, event_query: str
) -> None:
    from comparators.sources import pushdown_window

    with psycopg.connect(outcome_tables) as conn:
        conn.execute("DELETE FROM event_outcomes WHERE order_id = 'ord-000042'")
        conn.execute("UPDATE event_outcomes SET status = 'failed' WHERE order_id = 'ord-000077'")
    control, candidate = _sources(outcome_tables, event_query)
    opts = SAMPLE_OPTIONS
    rows = ReadWindow()
    digests = pushdown_window(control, candidate, opts.ignore, False, rows)
    # never compared: the settle clock, the side's name, the write-time mode, the verify flag
    assert digests.digest_ignore == ("produced_at", "source", "write_mode", "inconclusive")
    by_rows = compare(
        control.observations(rows), candidate.observations(rows), opts, Scope(now=LATER)
    )
    by_digest = compare(
        control.observations(digests), candidate.observations(digests), opts, Scope(now=LATER)
    )
    assert by_digest == by_rows
    assert dict(by_digest.counts) == {"divergent": 2, "match": N - 3, "missing": 1}
    assert {s.key for s in by_digest.samples} == {"ord-000042", "ord-000077", f"ord-{BAD:06d}"}


def test_pushdown_is_off_with_invariants_or_nested_ignores(outcome_tables: str) -> None:
    from comparators.sources import InMemorySource, pushdown_window

    control, candidate = _sources(outcome_tables)
    assert (
        pushdown_window(control, candidate, ("produced_at",), True, ReadWindow()).digest_ignore
        is None
    )
    assert (
        pushdown_window(
            control, candidate, ("payment.attempts",), False, ReadWindow()
        ).digest_ignore
        is None
    )
    assert (
        pushdown_window(
            control, InMemorySource([], key="order_id"), ("produced_at",), False, ReadWindow()
        ).digest_ignore
        is None
    )


class _Pushdown:
    """Reads through digest pushdown (records fetched on access)."""

    def __init__(self, inner: SqlSource) -> None:
        self.inner = inner
        self.name = inner.name

    def observations(self, window: ReadWindow) -> Iterator[Any]:
        from dataclasses import replace

        return self.inner.observations(replace(window, digest_ignore=("produced_at", "source")))


class TestSqlSourcePushdownContract(TestSqlSourceContract):
    def make_source(self, records: Sequence[dict[str, Any]]) -> OutcomeSource:
        inner = super().make_source(records)
        assert isinstance(inner, SqlSource)
        return _Pushdown(inner)
