"""Which path a comparison takes (one join, or the streaming engine), the plan's SQL
invariants, and the SQL the rules compile to: no database involved."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from comparators.diff import Scope
from comparators.errors import PlanError, RuleError
from comparators.invariants import SqlInvariant
from comparators.joined import by_ranges, choose_join, comparison_section, same_database
from comparators.plan import CompareConfig
from comparators.rules import CompareOptions, Tolerance, TruncateTimestamps
from comparators.sources import InMemorySource, ReadWindow, SqlSource
from comparators.sqlrules import check_columns, compile_rules, unknown_columns
from tests.support.plans import load_config
from tests.unit.comparators.factories import LATER

A = "postgresql://u:secret@db.example:5432/app"
A_SQLALCHEMY = "postgresql+psycopg://other:pw@db.example/app"
B = "postgresql://u:secret@db.example:5432/shadow"
OPTIONS = CompareOptions(key="id")


def sql(conninfo: str, pushdown: bool = True) -> SqlSource:
    return SqlSource(conninfo, "SELECT * FROM t", key="id", pushdown=pushdown)


def config(control: object, candidate: object, **kw: object) -> CompareConfig:
    return CompareConfig("ctx", control, candidate, OPTIONS, **kw)  # type: ignore[arg-type]


def test_same_host_port_and_database_is_one_database_whatever_the_url_form() -> None:
    assert same_database(sql(A), sql(A_SQLALCHEMY))


def test_another_database_on_the_same_server_is_not_the_same_database() -> None:
    assert not same_database(sql(A), sql(B))


def test_a_source_without_pushdown_or_not_sql_is_never_joined() -> None:
    memory = InMemorySource([], key="id")
    assert not same_database(sql(A), sql(A, pushdown=False))
    assert not same_database(memory, sql(A))


def test_sources_on_one_database_take_the_join() -> None:
    run = choose_join(config(sql(A), sql(A)), ReadWindow(), Scope(now=LATER), False)
    assert run is not None
    assert comparison_section(config(sql(A), sql(A)), run)["path"] == "joined"


def test_python_invariants_keep_the_streaming_path() -> None:
    assert choose_join(config(sql(A), sql(A)), ReadWindow(), Scope(now=LATER), True) is None


def test_plan_can_force_or_forbid_the_join() -> None:
    forced = config(sql(A), sql(B), same_database=True)
    forbidden = config(sql(A), sql(A), same_database=False)
    assert choose_join(forced, ReadWindow(), Scope(now=LATER), False) is not None
    assert choose_join(forbidden, ReadWindow(), Scope(now=LATER), False) is None


def test_sql_invariants_without_a_join_are_a_plan_error() -> None:
    invariant = (SqlInvariant("non_negative", "total >= 0"),)
    with pytest.raises(PlanError, match="invariants given as SQL"):
        choose_join(
            config(sql(A), sql(B), sql_invariants=invariant), ReadWindow(), Scope(now=LATER), False
        )


def test_sql_sources_on_two_databases_go_by_range_checksums() -> None:
    assert by_ranges(config(sql(A), sql(B)), False)
    assert comparison_section(config(sql(A), sql(B)), None, ranged=True)["path"] == "ranges"


def test_python_invariants_or_a_source_without_pushdown_stream_rows() -> None:
    assert not by_ranges(config(sql(A), sql(B)), True)
    assert not by_ranges(config(sql(A), sql(B, pushdown=False)), False)
    assert not by_ranges(config(InMemorySource([], key="id"), sql(B)), False)


def test_streamed_run_names_its_path_in_the_evidence() -> None:
    assert comparison_section(config(sql(A), sql(B)), None) == {
        "path": "streamed",
        "rules_without_sql": [],
    }


PLAN = """
system: {database: {url_env: CMP_DB}}
contexts:
  order:
    outcome: {key: order_id, sync_query: SELECT * FROM a, event_query: SELECT * FROM b}
    compare: {same_database: true}
    sql_invariants:
      - {name: non_negative_total, sql: "total >= 0"}
"""


def test_plan_sql_invariants_and_same_database_reach_the_comparison(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN)
    got = load_config(path, "order", env={"CMP_DB": A})
    assert got.sql_invariants == (SqlInvariant("non_negative_total", "total >= 0"),)
    assert got.same_database is True


RULES = CompareOptions(
    key="id",
    ignore=("produced_at", "payment.reference"),
    decimals=("total",),
    tolerances=(Tolerance("fee", Decimal("0.05")),),
    truncate=(TruncateTimestamps(("paid_at",), "second"),),
    case_insensitive=("email",),
    unordered=("lines",),
)
COLUMNS = [("id", 25), ("total", 1700), ("fee", 1700), ("paid_at", 1184), ("email", 25)]


def test_compiled_rules_name_parameters_by_alias_and_hash_the_normalised_record() -> None:
    rules = compile_rules(RULES, [*COLUMNS, ("lines", 3802)], json_column=None, alias="x")
    assert rules.digest == f"md5(({rules.normalised})::text)"
    assert rules.params and all(name.startswith("x_p") for name in rules.params)
    assert "produced_at" not in rules.params.values()  # an ignored column is never built
    assert not rules.fallback and rules.unsupported == ()


def test_custom_normalisers_have_no_sql_form_and_are_named() -> None:
    class Upper:
        name = "upper-status"

        def __call__(self, record: dict[str, object]) -> dict[str, object]:
            return record

    options = CompareOptions(key="id", normalisers=(Upper(),))
    rules = compile_rules(options, COLUMNS, json_column=None)
    assert rules.unsupported == ("upper-status",)
    assert rules.fallback


def test_a_rule_naming_a_column_no_side_returns_is_a_rule_error() -> None:
    names = [n for n, _ in COLUMNS]
    assert unknown_columns(RULES, names) == ("lines",)
    with pytest.raises(RuleError, match="no outcome query returns a column 'lines'"):
        check_columns(RULES, names, names)


def test_a_rule_column_on_one_side_only_is_accepted() -> None:
    names = [n for n, _ in COLUMNS]
    check_columns(RULES, names, [*names, "lines"])


def test_summary_names_the_rules_without_a_sql_form() -> None:
    from comparators import report
    from comparators.result import ComparisonResult
    from comparators.verdict import VerdictPolicy, decide

    result = ComparisonResult()
    policy = VerdictPolicy()
    info = report.RunInfo(
        run_id="r1", context="order", control="sync", candidate="event", partition="0/1"
    )
    doc = report.evidence(result, decide(result, policy), policy=policy, info=info, rules={})
    doc["comparison"] = {"path": "joined", "rules_without_sql": ["upper-status"]}
    assert "Rules without a SQL form (differing keys judged in Python): `upper-status`" in (
        report.markdown(doc)
    )


def test_null_key_on_the_streaming_path_is_a_source_error_never_the_key_none() -> None:
    from comparators.diff import compare
    from comparators.errors import SourceError

    rows = [{"id": None, "produced_at": "2026-01-01T00:00:00+00:00", "v": 1}]
    control = InMemorySource(rows, key="id", name="sync")
    candidate = InMemorySource([{**rows[0], "id": "None"}], key="id", name="event")
    with pytest.raises(SourceError, match="sync source failed: a row has a NULL key 'id'"):
        compare(
            control.observations(ReadWindow()),
            candidate.observations(ReadWindow()),
            OPTIONS,
            Scope(now=LATER),
        )
