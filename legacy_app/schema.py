"""Engines and schema creation for the legacy database."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, text

from cutover_common.modes import MODES_DDL
from legacy_app.models import Base


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine for ``url``; pooled and pre-pinged on Postgres, plain on SQLite."""
    if url.startswith("sqlite"):
        return create_engine(url, connect_args={"check_same_thread": False})
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def create_schema(engine: Engine) -> None:
    """Create every legacy table and the migration-mode table when they do not exist."""
    Base.metadata.create_all(engine)
    ddl = MODES_DDL
    if engine.dialect.name == "sqlite":  # unit tests: SQLite has no now()
        ddl = ddl.replace("DEFAULT now()", "DEFAULT CURRENT_TIMESTAMP")
    with engine.begin() as conn:
        conn.execute(text(ddl))


def create_all(url: str) -> None:
    """Create the schema in the database at ``url`` (idempotent), then dispose of the engine."""
    engine = make_engine(url, pool_size=1)
    try:
        create_schema(engine)
    finally:
        engine.dispose()
