"""``cutover init``: create or upgrade cutover's tables with alembic (``upgrade head``), print
their DDL (alembic's offline mode), or tell whether a database is initialised.

Nothing here creates a table implicitly: the commands that read the state call
:func:`require_initialised`, which only looks.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

import sqlalchemy.exc
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from cutover.state.errors import StateNotInitialised, StateUpgradeFailed
from cutover.state.naming import (
    ALL_GROUPS,
    DEFAULT_SCHEMA,
    Group,
    effective_schema,
    qualified,
    tables_of,
    version_table,
)

DATABASE_NAMES: dict[tuple[Group, ...], str] = {
    ("app",): "application",
    ("state",): "state",
    ALL_GROUPS: "application",
}


@dataclass(frozen=True, slots=True)
class InitResult:
    """What ``cutover init`` did to one database."""

    database: str
    schema: str | None
    groups: tuple[Group, ...]
    from_revision: str | None
    to_revision: str

    @property
    def changed(self) -> bool:
        """Whether the upgrade moved the database to another revision."""
        return self.from_revision != self.to_revision

    def to_dict(self) -> dict[str, object]:
        return {
            "database": self.database,
            "schema": self.schema,
            "tables": list(tables_of(self.groups)),
            "from_revision": self.from_revision,
            "to_revision": self.to_revision,
            "changed": self.changed,
        }


def alembic_config(schema: str, groups: tuple[Group, ...]) -> Config:
    """An alembic config over ``cutover/state/migrations`` (no ini file)."""
    config = Config(stdout=io.StringIO())
    config.set_main_option("script_location", str(files("cutover.state") / "migrations"))
    config.attributes.update(schema=schema, groups=groups)
    return config


@cache
def head_revision() -> str:
    """The newest revision this cutover knows (read once per process)."""
    head = ScriptDirectory.from_config(
        alembic_config(DEFAULT_SCHEMA, ALL_GROUPS)
    ).get_current_head()
    assert head is not None
    return head


def current_revision(conn: Connection, schema: str = DEFAULT_SCHEMA) -> str | None:
    """The revision recorded in ``conn``'s database (``None``: never initialised). Reads only."""
    dialect = conn.dialect.name
    target = effective_schema(dialect, schema)
    if not inspect(conn).has_table(version_table(dialect), schema=target):
        return None
    table = qualified(version_table(dialect), target)
    return conn.execute(text(f"SELECT max(version_num) FROM {table}")).scalar()


def upgrade(
    engine: Engine, *, schema: str = DEFAULT_SCHEMA, groups: tuple[Group, ...] = ALL_GROUPS
) -> InitResult:
    """``upgrade head`` in one transaction (idempotent): create the schema and the tables of
    ``groups``, moving the rows of the earlier layout in."""
    config = alembic_config(schema, groups)
    try:
        with engine.begin() as conn:
            before = current_revision(conn, schema)
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
            after = current_revision(conn, schema)
    except sqlalchemy.exc.SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise StateUpgradeFailed(first) from exc
    assert after is not None
    return InitResult(
        DATABASE_NAMES.get(groups, "application"),
        effective_schema(engine.dialect.name, schema),
        groups,
        before,
        after,
    )


def upgrade_sql(
    dialect: str, *, schema: str = DEFAULT_SCHEMA, groups: tuple[Group, ...] = ALL_GROUPS
) -> str:
    """The DDL of ``upgrade head`` from an empty database, for a change board; connects to
    nothing (alembic's offline mode). Moving an earlier layout's rows happens online only."""
    config = alembic_config(schema, groups)
    out = io.StringIO()
    config.output_buffer = out
    config.attributes["dialect"] = dialect
    command.upgrade(config, "head", sql=True)
    return out.getvalue()


def require_initialised(
    engine: Engine, *, schema: str = DEFAULT_SCHEMA, groups: tuple[Group, ...] = ALL_GROUPS
) -> None:
    """Raise :class:`StateNotInitialised` unless ``engine``'s database holds the tables of
    ``groups`` at the head revision. Reads the catalogue only; creates nothing."""
    target = effective_schema(engine.dialect.name, schema)
    with engine.connect() as conn:
        revision = current_revision(conn, schema)
        present = set(inspect(conn).get_table_names(schema=target)) if revision else set()
    database = DATABASE_NAMES.get(groups, "application")
    if revision is None or not set(tables_of(groups)) <= present:
        raise StateNotInitialised(database, target)
    if revision != head_revision():
        raise StateNotInitialised(database, target, revision)
