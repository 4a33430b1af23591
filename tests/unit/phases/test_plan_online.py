"""The online checks' rules (:mod:`phases.plan_online`) over an in-memory database and
Connect; the integration test runs them against the stack's PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from phases.errors import PlanIssue
from phases.outbox_connectors import application_connector, connector_config
from phases.plan import Plan, parse_plan_text
from phases.plan_online import QueryFailed, Role, online_issues
from tests.unit.phases.test_plan_validate_offline import PLAN

URL = "postgresql://app@db/app"
ENV = {"APP_DATABASE_URL": URL}
APP_ROLE = Role("app", superuser=False, replication=True)


@dataclass
class FakeDatabase:
    """A database ready for Debezium holding the plan's tables, unless told otherwise."""

    wal: str = "logical"
    who: Role = APP_ROLE
    tables: set[str] = field(
        default_factory=lambda: {"articles", "shadow_articles", "public.outbox"}
    )
    owned: set[str] = field(default_factory=lambda: {"public.outbox"})
    publications: set[str] = field(default_factory=set)
    results: dict[str, list[str]] = field(default_factory=dict)

    def wal_level(self) -> str:
        return self.wal

    def role(self) -> Role:
        return self.who

    def table_exists(self, table: str) -> bool:
        return table in self.tables

    def owns_table(self, table: str) -> bool:
        return table in self.owned

    def publication_exists(self, name: str) -> bool:
        return name in self.publications

    def columns(self, query: str) -> list[str]:
        if query.startswith("SELEC "):
            raise QueryFailed('syntax error at or near "SELEC"')
        if "shadow_articles" in query and "shadow_articles" not in self.tables:
            raise QueryFailed('relation "shadow_articles" does not exist', missing_table=True)
        return self.results.get(query, ["article_id", "produced_at", "title"])


def _plan(text: str = PLAN) -> Plan:
    return parse_plan_text(text)


def _issues(
    plan: Plan,
    db: FakeDatabase | None = None,
    *,
    live: Mapping[str, Mapping[str, object]] | None = None,
    env: Mapping[str, str] = ENV,
) -> list[str]:
    found = online_issues(
        plan,
        env,
        open_database=lambda _url: db or FakeDatabase(),
        live=None if live is None else live.get,
        importer=lambda _kind, _target: None,
    )
    return [str(i) for i in found]


def test_a_ready_system_has_no_issue() -> None:
    assert _issues(_plan()) == []


def test_a_missing_table_is_named_by_its_path() -> None:
    assert _issues(_plan(PLAN.replace("[articles]", "[ordrs]"))) == [
        "contexts.article.tables.0: table 'ordrs' does not exist"
    ]


def test_a_query_that_does_not_run_is_reported_with_the_databases_reason() -> None:
    plan = _plan(PLAN.replace("sync_query: SELECT id", "sync_query: SELEC id"))
    assert _issues(plan) == [
        'contexts.article.outcome.sync_query: does not run: syntax error at or near "SELEC"'
    ]


def test_a_query_without_produced_at_is_reported() -> None:
    db = FakeDatabase(results={"SELECT article_id, produced_at FROM shadow_articles": ["x"]})
    assert _issues(_plan(), db) == [
        'contexts.article.outcome.event_query: column "article_id" (outcome.key) missing',
        'contexts.article.outcome.event_query: column "produced_at" missing',
    ]


def test_a_query_returning_one_json_outcome_column_is_accepted() -> None:
    db = FakeDatabase(results={"SELECT article_id, produced_at FROM shadow_articles": ["outcome"]})
    assert _issues(_plan(), db) == []


def test_a_reference_that_does_not_import_is_reported() -> None:
    def importer(kind: str, target: str) -> None:
        raise ModuleNotFoundError(f"No module named {target.partition(':')[0]!r}")

    found = online_issues(
        _plan(), ENV, open_database=lambda _url: FakeDatabase(), importer=importer
    )
    assert [str(i) for i in found] == [
        "contexts.article.invariants.0: invariant 'tests.unit.phases.test_plan_validate_offline:"
        "no_check' does not import: No module named 'tests.unit.phases.test_plan_validate_offline'"
    ]


def test_the_real_importer_reports_a_module_that_does_not_exist() -> None:
    plan = _plan(
        PLAN.replace(
            '"tests.unit.phases.test_plan_validate_offline:no_check"', "no_such_module:nope"
        )
    )
    found = online_issues(plan, ENV, open_database=lambda _url: FakeDatabase())
    assert [str(i) for i in found] == [
        "contexts.article.invariants.0: invariant 'no_such_module:nope' does not import: "
        "cannot load 'no_such_module:nope': No module named 'no_such_module'"
    ]


def test_wal_level_replica_is_refused() -> None:
    assert _issues(_plan(), FakeDatabase(wal="replica")) == [
        "system.database: wal_level is replica; Debezium needs logical (ALTER SYSTEM SET "
        "wal_level = logical, then restart PostgreSQL)"
    ]


def test_a_role_without_replication_is_refused() -> None:
    db = FakeDatabase(who=Role("app", superuser=False, replication=False))
    assert _issues(_plan(), db) == [
        "system.database: role app has no REPLICATION privilege (ALTER ROLE app REPLICATION)"
    ]


def test_a_superuser_needs_no_replication_attribute() -> None:
    db = FakeDatabase(who=Role("postgres", superuser=True, replication=False), owned=set())
    assert _issues(_plan(), db) == []


def test_an_outbox_owned_by_another_role_needs_a_publication() -> None:
    assert _issues(_plan(), FakeDatabase(owned=set())) == [
        "connectors.outbox.publication: publication cutover_outbox_pub does not exist and role "
        "app does not own public.outbox (Debezium creates it with "
        "publication.autocreate.mode=filtered only as the owner); CREATE PUBLICATION "
        "cutover_outbox_pub FOR TABLE public.outbox"
    ]


def test_a_pre_created_publication_is_enough() -> None:
    db = FakeDatabase(owned=set(), publications={"cutover_outbox_pub"})
    assert _issues(_plan(), db) == []


def test_an_unset_database_variable_is_named() -> None:
    assert _issues(_plan(), env={}) == [
        "system.database.url_env: environment variable APP_DATABASE_URL is not set"
    ]


def test_a_database_that_refuses_the_connection_is_one_line() -> None:
    def refuse(_url: str) -> FakeDatabase:
        raise OSError("connection refused\nIs the server running?")

    found = online_issues(_plan(), ENV, open_database=refuse, importer=lambda _k, _t: None)
    assert found == [PlanIssue("system.database.url_env", "cannot connect: connection refused")]


def test_a_running_connector_with_another_prefix_is_reported() -> None:
    plan = _plan()
    running = dict(connector_config(application_connector(plan), URL, ENV))
    running["topic.prefix"] = "old-prefix"
    assert _issues(plan, live={"cutover-outbox": running}) == [
        "connectors.outbox: cutover-outbox runs otherwise: changing topic.prefix from "
        "old-prefix to cutover-outbox republishes every outbox row as new messages (the "
        "connector's offsets are kept under its topic.prefix)"
    ]


def test_a_running_connector_as_planned_is_fine() -> None:
    plan = _plan()
    running = dict(connector_config(application_connector(plan), URL, ENV))
    assert _issues(plan, live={"cutover-outbox": running}) == []


def test_an_event_query_on_a_missing_table_is_refused() -> None:
    db = FakeDatabase(tables={"articles", "public.outbox"})
    assert _issues(_plan(), db) == [
        'contexts.article.outcome.event_query: does not run: relation "shadow_articles" does '
        "not exist"
    ]


def test_a_shadow_apps_tables_may_not_exist_before_its_workers_start() -> None:
    plan = _plan(
        PLAN.replace("    invariants:", "    shadow: {app: 'team.shadow:app'}\n    invariants:")
    )
    assert _issues(plan, FakeDatabase(tables={"articles", "public.outbox"})) == []
