"""``cutover init`` as a plain function over :class:`phases.commands.CommandConfig` (the click
layer in :mod:`cutover.state.cli` only parses options).

Which databases: the application's (``system.database.url_env``) gets the application tables;
the state database (``--state-url``, ``$CUTOVER_STATE_URL`` or ``system.state_url_env``) the
phase, journal, lock and audit tables — all of them in one database when both are the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import make_url

from cutover.state.init import upgrade, upgrade_sql
from cutover.state.naming import ALL_GROUPS, Group
from cutover_common.errors import EnvironmentVariableMissing
from cutover_common.exit_codes import ExitCode
from phases.commands import CommandConfig
from phases.plan import Plan, load_plan
from phases.store import make_engine


@dataclass(frozen=True, slots=True)
class Target:
    """One database ``cutover init`` works on and the table groups it holds."""

    name: str
    url: str | None
    groups: tuple[Group, ...]

    @property
    def dialect(self) -> str:
        """The database's SQLAlchemy backend name (``postgresql`` when no URL is set)."""
        return make_url(self.url).get_backend_name() if self.url else "postgresql"


def _url(config: CommandConfig, name: str, required: bool) -> str | None:
    value = config.environ.get(name)
    if not value and required:
        raise EnvironmentVariableMissing(name, hint="export it (a URL)")
    return value or None


def targets(config: CommandConfig, plan: Plan, *, need_urls: bool = True) -> list[Target]:
    """The application database and, when it is another one, the state database (as
    :func:`phases.commands.state_url` resolves it). ``need_urls=False`` (``--sql``) lets
    unset variables pass: a set ``state_url_env`` then means two databases."""
    app_url = _url(config, plan.system.database.url_env, need_urls)
    explicit = config.state_url or config.environ.get("CUTOVER_STATE_URL")
    state_env = plan.system.state_url_env
    if not explicit and not state_env:
        return [Target("application", app_url, ALL_GROUPS)]
    other = explicit or _url(config, str(state_env), need_urls)
    if other is not None and other == app_url:
        return [Target("application", app_url, ALL_GROUPS)]
    return [Target("application", app_url, ("app",)), Target("state", other, ("state",))]


def init(config: CommandConfig, *, sql_only: bool = False) -> int:
    """Create or upgrade cutover's tables (alembic ``upgrade head``, idempotent), moving the
    rows of the earlier layout in; ``sql_only`` prints the DDL and connects to nothing."""
    plan = load_plan(config.plan_path)
    schema = plan.system.state_schema
    if sql_only:
        return _print_sql(config, targets(config, plan, need_urls=False), schema)
    results = []
    for target in targets(config, plan):
        assert target.url is not None
        engine = make_engine(target.url)
        try:
            results.append(upgrade(engine, schema=schema, groups=target.groups))
        finally:
            engine.dispose()
    if config.json:
        config.emit({"head": results[0].to_revision, "databases": [r.to_dict() for r in results]})
        return ExitCode.OK
    for r in results:
        where = f"schema {r.schema}" if r.schema else "no schema (SQLite)"
        if r.from_revision is None:
            what = f"created at revision {r.to_revision}"
        elif r.changed:
            what = f"upgraded {r.from_revision} -> {r.to_revision}"
        else:
            what = f"already at revision {r.to_revision}"
        config.stdout.write(f"{r.database} database, {where}: cutover tables {what}\n")
    return ExitCode.OK


def _print_sql(config: CommandConfig, found: list[Target], schema: str) -> int:
    scripts = [(t, upgrade_sql(t.dialect, schema=schema, groups=t.groups)) for t in found]
    if config.json:
        config.emit(
            {
                "databases": [
                    {"database": t.name, "dialect": t.dialect, "sql": s} for t, s in scripts
                ]
            }
        )
        return ExitCode.OK
    for target, script in scripts:
        config.stdout.write(f"-- cutover init: the {target.name} database\n{script}")
    return ExitCode.OK
