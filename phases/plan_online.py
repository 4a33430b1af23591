"""``cutover plan validate --online``: the plan checked against the live system.

Offline validation (:mod:`phases.plan`, :mod:`phases.plan_checks`) reads only the file: it
checks that references are *written* ``module:attribute``. Online, through the plan's
environment references (``system.database.url_env``, ``outcome.*_database``,
``shadow_outbox.database``), :func:`online_issues` checks that

- every table of every context exists;
- every outcome query runs (``SELECT * FROM (query) AS src LIMIT 0``) and returns the
  context's key and ``produced_at`` (or one JSON ``outcome`` column); an event-side query
  of a context with a shadow app may name tables that do not exist yet (its workers create
  them when they start, phase 3);
- every outcome callable, normaliser, invariant and shadow app imports;
- the database is ready for Debezium: ``wal_level=logical``, the connecting role has
  ``REPLICATION`` (or is a superuser), and each connector's publication exists or the role
  owns its outbox table (``publication.autocreate.mode=filtered`` creates it only then);
- each plan connector running on Connect has the plan's topic prefix, slot and
  publication (:func:`cdc.resnapshot.resnapshot_reasons`).

Each problem is a :class:`~phases.errors.PlanIssue` (``path: reason``). The database and
Connect are ports (:class:`PlanDatabase`, :data:`LiveConfig`) so the rules are tested with
fakes; ``cutover advance`` runs the same checks (without Connect, which its resnapshot
refusal covers) before anything changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from phases.errors import PhasesError, PlanIssue
from phases.outbox_connectors import OutboxConnector, connector_config, plan_connectors
from phases.plan import ContextSpec, DatabaseRef, Plan
from phases.plan_checks import plan_references

JSON_COLUMN = "outcome"
PRODUCED_AT = "produced_at"
_SIDES = ("sync", "event", "verify", "async_event")
_SHADOW_SIDES = ("event", "async_event")


class QueryFailed(PhasesError):
    """A query the database refused; ``reason`` is its first line, ``missing_table`` says
    it names a table that does not exist (SQLSTATE 42P01)."""

    def __init__(self, reason: str, *, missing_table: bool = False) -> None:
        self.reason = reason
        self.missing_table = missing_table
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class Role:
    """The role the plan's URL connects as."""

    name: str
    superuser: bool
    replication: bool


class PlanDatabase(Protocol):
    """What the online checks read from one database."""

    def wal_level(self) -> str: ...

    def role(self) -> Role: ...

    def table_exists(self, table: str) -> bool: ...

    def owns_table(self, table: str) -> bool: ...

    def publication_exists(self, name: str) -> bool: ...

    def columns(self, query: str) -> list[str]:
        """The column names ``query`` returns; raises :class:`QueryFailed`."""
        ...


LiveConfig = Callable[[str], Mapping[str, object] | None]
"""The config of a connector running on Connect by name (``None``: none runs)."""
Importer = Callable[[str, str], None]
"""Import one reference of a kind (``invariant``, ``normaliser``, ...); raise when it fails."""


def import_reference(kind: str, target: str) -> None:
    """Import ``target`` as the commands that use it would."""
    from comparators.invariants import resolve
    from comparators.rules import load_normaliser, load_target

    if kind == "invariant":
        resolve(target)
    elif kind == "normaliser":
        load_normaliser(target)
    else:
        load_target(target)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def reference_import_issues(plan: Plan, importer: Importer = import_reference) -> list[PlanIssue]:
    """Every callable, normaliser, invariant and shadow app of the plan that does not import."""
    issues = []
    for path, kind, target in plan_references(plan):
        try:
            importer(kind, target)
        except Exception as exc:  # an import runs the team's code: any error is the answer
            issues.append(PlanIssue(path, f"{kind} {target!r} does not import: {_first_line(exc)}"))
    return issues


def _outcome_issues(
    plan: Plan, databases: Mapping[str, PlanDatabase | PlanIssue]
) -> list[PlanIssue]:
    issues: list[PlanIssue] = []
    for cname, ctx in plan.contexts.items():
        base = f"contexts.{cname}"
        main = databases[plan.system.database.url_env]
        if not isinstance(main, PlanIssue):
            for i, table in enumerate(ctx.tables):
                if not main.table_exists(table):
                    issues.append(
                        PlanIssue(f"{base}.tables.{i}", f"table {table!r} does not exist")
                    )
        if ctx.outcome is None:
            continue
        for side in _SIDES:
            query = getattr(ctx.outcome, f"{side}_query")
            if not query:
                continue
            ref: DatabaseRef | None = getattr(ctx.outcome, f"{side}_database", None)
            db = databases[(ref or plan.system.database).url_env]
            if isinstance(db, PlanIssue):
                continue
            path = f"{base}.outcome.{side}_query"
            try:
                columns = db.columns(query)
            except QueryFailed as exc:
                if exc.missing_table and side in _SHADOW_SIDES and ctx.shadow is not None:
                    continue  # the shadow app's tables: its workers create them (phase 3)
                issues.append(PlanIssue(path, f"does not run: {exc.reason}"))
                continue
            issues += _sql_invariant_issues(base, ctx, side, query, db)
            if columns == [JSON_COLUMN]:
                continue
            for column, why in ((ctx.outcome.key, " (outcome.key)"), (PRODUCED_AT, "")):
                if column not in columns:
                    issues.append(PlanIssue(path, f'column "{column}"{why} missing'))
    return issues


def _sql_invariant_issues(
    base: str, ctx: ContextSpec, side: str, query: str, db: PlanDatabase
) -> list[PlanIssue]:
    """Every SQL invariant runs as a predicate over the side's outcome query."""
    issues = []
    inner = query.strip().rstrip(";")
    for i, inv in enumerate(ctx.sql_invariants):
        try:
            db.columns(f"SELECT ({inv.sql}) AS holds FROM ({inner}) AS q")
        except QueryFailed as exc:
            reason = f"does not run on the {side} query: {exc.reason}"
            issues.append(PlanIssue(f"{base}.sql_invariants.{i}", reason))
    return issues


def debezium_issues(
    plan: Plan, databases: Mapping[str, PlanDatabase | PlanIssue]
) -> list[PlanIssue]:
    """Each connector's database is ready for Debezium (see the module)."""
    issues: list[PlanIssue] = []
    seen: set[str] = set()
    for connector in plan_connectors(plan):
        db = databases[connector.url_env]
        if isinstance(db, PlanIssue):
            continue
        where = _database_path(plan, connector)
        if connector.url_env not in seen:
            seen.add(connector.url_env)
            level = db.wal_level()
            if level != "logical":
                issues.append(
                    PlanIssue(
                        where,
                        f"wal_level is {level}; Debezium needs logical "
                        "(ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL)",
                    )
                )
            role = db.role()
            if not (role.superuser or role.replication):
                issues.append(
                    PlanIssue(
                        where,
                        f"role {role.name} has no REPLICATION privilege "
                        f"(ALTER ROLE {role.name} REPLICATION)",
                    )
                )
        table = connector.layout.table
        if db.publication_exists(connector.publication_name) or not db.table_exists(table):
            continue
        if not (db.role().superuser or db.owns_table(table)):
            issues.append(
                PlanIssue(
                    f"connectors.{connector.block}.publication",
                    f"publication {connector.publication_name} does not exist and role "
                    f"{db.role().name} does not own {table} (Debezium creates it "
                    "with publication.autocreate.mode=filtered only as the owner); "
                    f"CREATE PUBLICATION {connector.publication_name} FOR TABLE {table}",
                )
            )
    return issues


def _database_path(plan: Plan, connector: OutboxConnector) -> str:
    if connector.url_env == plan.system.database.url_env:
        return "system.database"
    return f"{connector.block}.database"


def connect_issues(plan: Plan, env: Mapping[str, str], live: LiveConfig) -> list[PlanIssue]:
    """Each plan connector running on Connect agrees with the plan on its topic prefix, slot
    and publication (a change would republish its outbox)."""
    from cdc.resnapshot import resnapshot_reasons

    issues = []
    for connector in plan_connectors(plan):
        path = f"connectors.{connector.block}"
        try:
            running = live(connector.name)
        except Exception as exc:  # Connect unreachable, refused, ...
            return [
                PlanIssue("system.connect.url", f"cannot read Kafka Connect: {_first_line(exc)}")
            ]
        url = env.get(connector.url_env)
        if running is None or not url:
            continue
        try:
            desired = connector_config(connector, url, env)
        except Exception as exc:  # a password variable not set
            issues.append(PlanIssue(path, _first_line(exc)))
            continue
        for reason in resnapshot_reasons(running, desired):
            issues.append(PlanIssue(path, f"{connector.name} runs otherwise: {reason}"))
    return issues


def database_refs(plan: Plan) -> dict[str, str]:
    """Environment variable -> the plan path naming it, for every database the plan uses."""
    refs = {plan.system.database.url_env: "system.database.url_env"}
    for cname, ctx in plan.contexts.items():
        for side in ("sync", "event", "verify"):
            ref = getattr(ctx.outcome, f"{side}_database", None) if ctx.outcome else None
            if ref is not None:
                refs.setdefault(ref.url_env, f"contexts.{cname}.outcome.{side}_database.url_env")
    if plan.shadow_outbox is not None and plan.shadow_outbox.database is not None:
        refs.setdefault(plan.shadow_outbox.database.url_env, "shadow_outbox.database.url_env")
    return refs


def online_issues(
    plan: Plan,
    env: Mapping[str, str],
    *,
    open_database: Callable[[str], PlanDatabase],
    live: LiveConfig | None = None,
    importer: Importer = import_reference,
) -> list[PlanIssue]:
    """Every online problem of ``plan`` (see the module). ``open_database`` opens a database
    by URL (raising when it cannot); ``live`` reads Connect (``None``: not checked)."""
    databases: dict[str, PlanDatabase | PlanIssue] = {}
    issues: list[PlanIssue] = []
    for name, path in database_refs(plan).items():
        url = env.get(name)
        if not url:
            databases[name] = PlanIssue(path, f"environment variable {name} is not set")
        else:
            try:
                databases[name] = open_database(url)
            except Exception as exc:  # refused, unknown host, bad credentials
                databases[name] = PlanIssue(path, f"cannot connect: {_first_line(exc)}")
        if isinstance(databases[name], PlanIssue):
            issues.append(databases[name])  # type: ignore[arg-type]
    issues.extend(_outcome_issues(plan, databases))
    issues.extend(reference_import_issues(plan, importer))
    issues.extend(debezium_issues(plan, databases))
    if live is not None:
        issues.extend(connect_issues(plan, env, live))
    return issues


class PgPlanDatabase:
    """:class:`PlanDatabase` over one PostgreSQL connection (autocommit, read-only use)."""

    def __init__(self, url: str) -> None:
        import psycopg

        from comparators.sources import libpq_url

        self._conn = psycopg.connect(libpq_url(url), autocommit=True, connect_timeout=10)

    def _one(self, sql: str, *params: Any) -> Any:
        with self._conn.cursor() as cur:
            cur.execute(sql, params or None)
            row = cur.fetchone()
        return None if row is None else row[0]

    def wal_level(self) -> str:
        return str(self._one("SHOW wal_level"))

    def role(self) -> Role:
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT rolname, rolsuper, rolreplication FROM pg_roles WHERE rolname = current_user"
            )
            name, superuser, replication = cur.fetchone() or ("?", False, False)
        return Role(str(name), bool(superuser), bool(replication))

    def table_exists(self, table: str) -> bool:
        return bool(self._one("SELECT to_regclass(%s) IS NOT NULL", table))

    def owns_table(self, table: str) -> bool:
        return bool(
            self._one(
                "SELECT pg_has_role(current_user, c.relowner, 'USAGE') FROM pg_class c "
                "WHERE c.oid = to_regclass(%s)",
                table,
            )
        )

    def publication_exists(self, name: str) -> bool:
        return bool(self._one("SELECT count(*) FROM pg_publication WHERE pubname = %s", name))

    def columns(self, query: str) -> list[str]:
        import psycopg

        inner = query.strip().rstrip(";")
        try:
            with self._conn.cursor() as cur:
                cur.execute(f"SELECT * FROM ({inner}) AS src LIMIT 0")
                return [c.name for c in cur.description or ()]
        except psycopg.Error as exc:
            missing = exc.sqlstate == "42P01"
            raise QueryFailed(_first_line(exc), missing_table=missing) from None

    def close(self) -> None:
        self._conn.close()


def check_online(
    plan: Plan, env: Mapping[str, str], *, with_connect: bool = True
) -> list[PlanIssue]:
    """:func:`online_issues` against the real databases (and Connect, when ``with_connect``)."""
    opened: list[PgPlanDatabase] = []

    def open_database(url: str) -> PlanDatabase:
        db = PgPlanDatabase(url)
        opened.append(db)
        return db

    live: LiveConfig | None = None
    if with_connect:
        from phases.adapters import _connect_client

        client = _connect_client(plan, env, timeout_s=10.0)

        def live(name: str) -> Mapping[str, object] | None:
            from cdc.errors import ConnectorNotFound

            try:
                return dict(client.get_config(name))
            except ConnectorNotFound:
                return None

    try:
        return online_issues(plan, env, open_database=open_database, live=live)
    finally:
        for db in opened:
            db.close()
