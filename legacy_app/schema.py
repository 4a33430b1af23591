"""Engines and schema creation for the legacy database.

:func:`create_schema` creates what is missing and upgrades a database created
before these columns existed (:data:`COLUMN_UPGRADES`): ``orders.version``
(2 for a finished order, else 1), ``outbox.aggregate_version`` numbered per
aggregate in the order the rows were written, then the unique index; ``outbox.mode``
(NULL for the rows written before it: their mode is unknown).

cutover's own tables (modes, verify results, blocked calls) are not the sample's: ``cutover
init`` creates them (:func:`create_all` runs it as the sample's bootstrap, through
``cutover.init_state``).
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, create_engine, inspect, text

import cutover
from legacy_app.models import Base

# Serialises concurrent upgrades of one database (any constant; "cutover legacy" in ASCII).
UPGRADE_LOCK_KEY = 0x6375746F766572

COLUMN_UPGRADES: dict[str, tuple[str, ...]] = {
    "orders.version": (
        "ALTER TABLE orders ADD COLUMN version INTEGER NOT NULL DEFAULT 1",
        "UPDATE orders SET version = 2 WHERE finished_at IS NOT NULL",
    ),
    "outbox.aggregate_version": (
        "ALTER TABLE outbox ADD COLUMN aggregate_version INTEGER NOT NULL DEFAULT 0",
        "UPDATE outbox SET aggregate_version = v.n FROM ("
        " SELECT id, row_number() OVER ("
        "  PARTITION BY aggregatetype, aggregateid ORDER BY created_at, id) AS n"
        " FROM outbox) AS v WHERE outbox.id = v.id",
    ),
    "outbox.mode": ("ALTER TABLE outbox ADD COLUMN mode VARCHAR(20)",),
}


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine for ``url``; pooled and pre-pinged on Postgres, plain on SQLite (unit tests)."""
    if url.startswith("sqlite"):
        return create_engine(url, connect_args={"check_same_thread": False})
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def create_schema(engine: Engine) -> None:
    """Create every legacy table when it does not exist; add the later columns to tables
    created without them (:data:`COLUMN_UPGRADES`)."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": UPGRADE_LOCK_KEY})
        upgrade_columns(conn)
        Base.metadata.create_all(conn)
        for index in Base.metadata.tables["outbox"].indexes:  # a table from before its index
            index.create(conn, checkfirst=True)


def upgrade_columns(conn: Connection) -> list[str]:
    """Add the columns of :data:`COLUMN_UPGRADES` where missing (existing rows filled in);
    returns the columns added."""
    inspector = inspect(conn)
    added: list[str] = []
    for column, statements in COLUMN_UPGRADES.items():
        table, name = column.split(".")
        if not inspector.has_table(table):
            continue  # create_all makes it with the column
        if name in {c["name"] for c in inspector.get_columns(table)}:
            continue
        for statement in statements:
            conn.execute(text(statement))
        added.append(column)
    return added


def create_all(url: str) -> None:
    """The sample's bootstrap of the database at ``url`` (idempotent): its tables, then
    cutover's (``cutover init``); then dispose of the engine."""
    engine = make_engine(url, pool_size=1)
    try:
        create_schema(engine)
        cutover.init_state(engine)
    finally:
        engine.dispose()
