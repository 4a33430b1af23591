"""Where cutover's tables are: the configured schema per dialect, qualified names for raw SQL,
and engines that map the models' symbolic schema onto the configured one."""

from __future__ import annotations

import re
from typing import Literal

from sqlalchemy import Engine

from cutover.state.models import APP_TABLES, SCHEMA, STATE_TABLES

Group = Literal["app", "state"]
"""``app``: the tables the application touches; ``state``: phase, audit, journal, lock."""

ALL_GROUPS: tuple[Group, ...] = ("app", "state")
DEFAULT_SCHEMA = SCHEMA
SCHEMA_PATTERN = r"^[a-z_][a-z0-9_]{0,62}$"
VERSION_TABLE = "alembic_version"
SQLITE_VERSION_TABLE = "cutover_alembic_version"

_SCHEMA_RE = re.compile(SCHEMA_PATTERN)


def valid_schema(schema: str) -> str:
    """``schema`` when it is a plain lower-case SQL identifier (it is spliced into DDL)."""
    if not _SCHEMA_RE.match(schema):
        raise ValueError(f"state schema {schema!r} is not a lower-case SQL identifier")
    return schema


def effective_schema(dialect: str, schema: str = DEFAULT_SCHEMA) -> str | None:
    """The schema the tables are in on ``dialect``: ``schema``, or none on SQLite."""
    return None if dialect == "sqlite" else valid_schema(schema)


def version_table(dialect: str) -> str:
    """alembic's version table: ``<schema>.alembic_version``; prefixed on SQLite."""
    return SQLITE_VERSION_TABLE if dialect == "sqlite" else VERSION_TABLE


def bind(engine: Engine, schema: str = DEFAULT_SCHEMA) -> Engine:
    """``engine`` whose statements put the models' tables in ``schema`` (none on SQLite)."""
    target = effective_schema(engine.dialect.name, schema)
    if target == SCHEMA:
        return engine
    return engine.execution_options(schema_translate_map={SCHEMA: target})


def qualified(table: str, schema: str | None) -> str:
    """``schema.table`` for raw SQL (``table`` alone when there is no schema)."""
    return f"{schema}.{table}" if schema else table


def tables_of(groups: tuple[Group, ...]) -> tuple[str, ...]:
    """The table names of ``groups``, application tables first."""
    return (APP_TABLES if "app" in groups else ()) + (STATE_TABLES if "state" in groups else ())
