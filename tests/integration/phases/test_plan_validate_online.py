"""``cutover plan validate --online`` against the stack's PostgreSQL (a fresh database):
each broken plan of issue 16 is refused with exit 2 and the path of its problem, and the
committed example plan (phases/examples/rehearsal-plan.yaml) validates on the sample's
schema.

``wal_level=replica`` cannot be shown here: the shared PostgreSQL runs with
``wal_level=logical`` and is never restarted by a test. The rule is tested with a database
port that answers ``replica`` (tests/unit/phases/test_plan_online.py::
test_wal_level_replica_is_refused); here the same function reads the real setting and
must find ``logical`` fine (the example plan passes)."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from cdc.outbox_table import create_table_ddl
from legacy_app.schema import create_all
from phases.commands import CommandConfig, plan_validate
from phases.plan import load_plan
from phases.plan_online import PgPlanDatabase
from rehearsal.stack.endpoints import Endpoints
from tests.unit.phases.test_example_plan import EXAMPLE
from tests.unit.phases.test_plan_validate_offline import PLAN

URL_ENV = "APP_DATABASE_URL"
Validate = Callable[[str], tuple[int, list[str]]]


@pytest.fixture
def url(endpoints: Endpoints, fresh_database: str) -> str:
    """A fresh database holding the base plan's tables (articles, shadow_articles)."""
    url = endpoints.database_url(fresh_database)
    engine = create_engine(url)
    with engine.begin() as conn:
        for table in ("articles", "shadow_articles"):
            key = "id" if table == "articles" else "article_id"
            conn.execute(text(f"CREATE TABLE {table} ({key} text, produced_at timestamptz)"))
    engine.dispose()
    return url


@pytest.fixture
def validate(url: str, tmp_path: Path, endpoints: Endpoints) -> Validate:
    def run(plan_text: str) -> tuple[int, list[str]]:
        path = tmp_path / "plan.yaml"
        path.write_text(plan_text.replace("http://127.0.0.1:8083", endpoints.connect_url))
        out = io.StringIO()
        code = plan_validate(CommandConfig(stdout=out, environ={URL_ENV: url}), path, online=True)
        return code, out.getvalue().splitlines()

    return run


BROKEN = {
    "a table that does not exist": (
        PLAN.replace("tables: [articles]", "tables: [articels]"),
        "contexts.article.tables.0: table 'articels' does not exist",
    ),
    "a query that does not parse": (
        PLAN.replace("SELECT id AS article_id, produced_at FROM articles", "SELEC id FROM ordrs"),
        "contexts.article.outcome.sync_query: does not run: syntax error at or near",
    ),
    "a query without produced_at": (
        PLAN.replace(
            "SELECT id AS article_id, produced_at FROM articles",
            "SELECT id AS article_id FROM articles",
        ),
        'contexts.article.outcome.sync_query: column "produced_at" missing',
    ),
    "a callable that does not import": (
        PLAN.replace(
            "      sync_query: SELECT id AS article_id, produced_at FROM articles",
            "      sync_callable: no_such_module:nope",
        ),
        "contexts.article.outcome.sync_callable: callable 'no_such_module:nope' does not "
        "import: cannot load 'no_such_module:nope': No module named 'no_such_module'",
    ),
    "an unknown invariant": (
        PLAN.replace(
            '"tests.unit.phases.test_plan_validate_offline:no_check"', "payment_captured_once"
        ),
        "contexts.article.invariants.0: unknown invariant 'payment_captured_once'",
    ),
    "an event no registry knows": (
        PLAN.replace("[article.favorited]", "[article.favorited, article.fovorited]")
        + "contracts: {dir: contracts}\n",
        "contexts.article.events.1: event 'article.fovorited' is in no contract of",
    ),
    "warn above min": (
        PLAN.replace(
            "dual_write: {min_match_rate: 0.99}",
            "dual_write: {min_match_rate: 0.9, warn_match_rate: 0.95}",
        ),
        "gates.dual_write.warn_match_rate: 0.95 is above min_match_rate 0.9",
    ),
    "a context written twice": (
        PLAN.replace("gates:", "  article:\n    tables: [articles]\n    topic: {name: t}\ngates:"),
        "contexts.article: key 'article' written twice (lines 7 and 16)",
    ),
}


@pytest.mark.parametrize("broken", list(BROKEN))
def test_a_broken_plan_is_refused_online_with_the_path_of_its_problem(
    validate: Validate, tmp_path: Path, broken: str
) -> None:
    from tests.unit.events.contracts_dir import team_contracts

    team_contracts(tmp_path / "contracts")
    plan_text, expected = BROKEN[broken]
    code, lines = validate(plan_text)
    assert (code, [line.startswith(expected) for line in lines]) == (2, [True]), lines


def test_the_base_plan_is_valid_online(validate: Validate) -> None:
    code, lines = validate(PLAN)
    assert (code, lines[-1].endswith("valid (1 contexts: article)")) == (0, True), lines


def test_the_stacks_wal_level_is_read_as_logical(url: str) -> None:
    db = PgPlanDatabase(url)
    try:
        assert db.wal_level() == "logical"
    finally:
        db.close()


def test_the_committed_example_plan_validates_online(
    endpoints: Endpoints, fresh_database: str
) -> None:
    url = endpoints.database_url(fresh_database)
    create_all(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in create_table_ddl(load_plan(EXAMPLE).outbox.layout()):
            conn.execute(text(statement))
    engine.dispose()
    out = io.StringIO()
    environ = {"LEGACY_DATABASE_URL": url}
    code = plan_validate(CommandConfig(stdout=out, environ=environ), EXAMPLE, online=True)
    assert (code, out.getvalue()) == (0, f"{EXAMPLE}: valid (1 contexts: order)\n")


def test_advance_refuses_a_plan_that_fails_online_before_anything_changes(
    url: str,
    tmp_path: Path,
    endpoints: Endpoints,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from cutover.state.commands import init
    from cutover_common.cli import run_cli
    from phases.cli import cli
    from phases.store import StateStore, make_engine

    path = tmp_path / "plan.yaml"
    path.write_text(PLAN.replace("tables: [articles]", "tables: [articels]"))
    monkeypatch.setenv(URL_ENV, url)
    assert init(CommandConfig(plan_path=path, stdout=io.StringIO(), environ={URL_ENV: url})) == 0
    capsys.readouterr()
    assert run_cli(cli, ["advance", "--plan", str(path), "--to", "1"]) == 2
    assert capsys.readouterr().out == "contexts.article.tables.0: table 'articels' does not exist\n"
    assert StateStore(make_engine(url)).history(5) == []


def test_the_helpdesk_plan_validates_online_before_its_shadow_workers_start(
    endpoints: Endpoints, fresh_database: str
) -> None:
    from examples.helpdesk.schema import create_all as create_helpdesk

    url = endpoints.database_url(fresh_database)
    create_helpdesk(url)
    plan = Path(__file__).resolve().parents[3] / "examples" / "helpdesk" / "plan.yaml"
    out = io.StringIO()
    environ = {"HELPDESK_DATABASE_URL": url}
    assert plan_validate(CommandConfig(stdout=out, environ=environ), plan, online=True) == 0, (
        out.getvalue()
    )
