"""An outcome query that is wrong for its database (a renamed column) gives a failed verdict:
exit 4 (``ExitCode.FAIL``), the database's one-line message as its reason, evidence written,
no traceback. A database that cannot be reached is no verdict: the error propagates."""

from __future__ import annotations

import html
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.exc import ProgrammingError

from comparators.commands import run_compare
from comparators.diff import Observation
from comparators.errors import SourceError
from comparators.plan import CompareConfig
from comparators.rules import CompareOptions
from comparators.sources import InMemorySource, ReadWindow
from comparators.verdict import Status
from cutover_common.exit_codes import ExitCode
from phases.adapters_comparators import summarise_run
from phases.cli import cli
from tests.support.plans import full_plan
from tests.unit.cli.conftest import run
from tests.unit.comparators.factories import LATER, outcome

MESSAGE = 'sync outcome query failed: column "total" does not exist'
PLAN = """
system: {database: {url_env: UNUSED_DB}}
contexts:
  order:
    tables: [orders]
    topic: {name: outbox.event.order}
    events: [order.created]
    outcome:
      key: order_id
      sync_callable: tests.unit.comparators.test_query_failure:renamed_column
      event_callable: tests.unit.comparators.sample_sources:candidate_clean
gates:
  dual_write: {min_settled_keys: 10}
"""


def renamed_column() -> list[dict[str, str]]:
    """A sync side reading through SQLAlchemy after ``RENAME COLUMN total TO order_total``."""
    db = psycopg.errors.UndefinedColumn('column "total" does not exist\nLINE 1: SELECT total ...')
    raise ProgrammingError("SELECT total FROM orders", {}, db)


@dataclass(frozen=True, slots=True)
class BrokenSource:
    """A fake source whose read fails as a comparators source reports it."""

    error: SourceError
    name: str = "sync"

    def observations(self, window: ReadWindow) -> Iterator[Observation]:
        raise self.error
        yield  # pragma: no cover - a generator, like the real sources


def _config(error: SourceError) -> CompareConfig:
    return CompareConfig(
        context="order",
        control=BrokenSource(error),
        candidate=InMemorySource([outcome(1, source="event")], name="event", key="order_id"),
        options=CompareOptions(key="order_id"),
    )


def test_a_source_error_of_a_wrong_query_is_a_failed_verdict_with_evidence(tmp_path: Path) -> None:
    error = SourceError("sync", "UndefinedColumn: column total does not exist")
    ran = run_compare(
        _config(error), now=LATER, out_dir=tmp_path, stdout=io.StringIO(), as_json=True
    )
    assert ran.verdict.status is Status.FAIL and ran.verdict.exit_code == ExitCode.FAIL == 4
    expected = "sync outcome query failed: UndefinedColumn: column total does not exist"
    assert ran.error == expected
    assert ran.verdict.reasons == (expected,)
    evidence = json.loads((tmp_path / "evidence.json").read_text())
    assert evidence["error"] == expected
    assert evidence["verdict"]["status"] == "fail" and evidence["verdict"]["exit_code"] == 4
    assert evidence["figures"]["settled"] == 0
    assert expected in html.unescape((tmp_path / "report.html").read_text())


def test_an_unreachable_database_is_no_verdict() -> None:
    error = SourceError("sync", "OperationalError: connection refused", unreachable=True)
    with pytest.raises(SourceError) as info:
        run_compare(_config(error), now=LATER, stdout=io.StringIO(), as_json=True)
    assert info.value.unreachable


def test_the_gate_port_reads_a_failed_run_as_a_failed_input(tmp_path: Path) -> None:
    error = SourceError("sync", "UndefinedColumn: column total does not exist")
    ran = run_compare(
        _config(error), now=LATER, out_dir=tmp_path, stdout=io.StringIO(), as_json=True
    )
    summary = summarise_run("order", ran)
    assert summary.error == ran.error and summary.verdict == "fail"
    assert str(tmp_path / "evidence.json") in summary.report_paths


def test_cutover_compare_run_with_a_renamed_column_exits_4_in_one_line(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(full_plan(PLAN))
    out_dir = tmp_path / "ev"
    args = ["compare", "run", "--plan", str(plan), "--context", "order", "--json"]
    ran = run(cli, [*args, "--out", str(out_dir)])
    assert ran.code == ExitCode.FAIL
    doc = json.loads(ran.out)
    assert (doc["verdict"]["status"], doc["error"]) == ("fail", MESSAGE)
    assert doc["verdict"]["reasons"] == [MESSAGE]
    assert json.loads((out_dir / "evidence.json").read_text())["error"] == MESSAGE
    assert MESSAGE in html.unescape((out_dir / "report.html").read_text())
    assert "Traceback" not in ran.out + ran.err
    human = run(cli, args[:-1])
    assert human.code == 4 and MESSAGE in human.out and "Traceback" not in human.out + human.err
