"""plan validate --online runs each SQL invariant as a predicate over each outcome query."""

from __future__ import annotations

from dataclasses import dataclass

from phases.plan_online import QueryFailed
from tests.unit.phases.test_plan_online import FakeDatabase, _issues, _plan
from tests.unit.phases.test_plan_validate_offline import PLAN

WITH_SQL_INVARIANT = PLAN.replace(
    "    invariants: [",
    "    sql_invariants: [{name: positive, sql: 'score > 0'}]\n    invariants: [",
)


@dataclass
class NoScoreColumn(FakeDatabase):
    """A database whose outcome queries return no ``score`` column."""

    def columns(self, query: str) -> list[str]:
        if "score > 0" in query:
            raise QueryFailed('column "score" does not exist')
        return super().columns(query)


def test_a_sql_invariant_that_runs_on_both_queries_is_no_issue() -> None:
    assert _issues(_plan(WITH_SQL_INVARIANT)) == []


def test_a_sql_invariant_naming_a_missing_column_is_reported_per_side() -> None:
    assert _issues(_plan(WITH_SQL_INVARIANT), NoScoreColumn()) == [
        'contexts.article.sql_invariants.0: does not run on the sync query: column "score" '
        "does not exist",
        'contexts.article.sql_invariants.0: does not run on the event query: column "score" '
        "does not exist",
    ]
