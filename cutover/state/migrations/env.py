"""alembic environment of cutover's own tables (run by :mod:`cutover.state.init`, never by an
``alembic.ini``).

``config.attributes`` carries ``schema`` (the configured state schema), ``groups`` (which
tables this database holds: ``app``, ``state`` or both) and, online, the ``connection``;
offline (``--sql``) a ``dialect`` name. The version table lives in the state schema.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from cutover.state.naming import effective_schema, version_table

config = context.config


def _configure(dialect: str, **kwargs: object) -> str | None:
    schema = effective_schema(dialect, str(config.attributes["schema"]))
    context.configure(
        version_table=version_table(dialect),
        version_table_schema=schema,
        transactional_ddl=True,
        **kwargs,  # type: ignore[arg-type]
    )
    return schema


def run_offline() -> None:
    dialect = str(config.attributes["dialect"])
    schema = _configure(dialect, dialect_name=dialect, literal_binds=True)
    with context.begin_transaction():
        if schema:
            context.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        context.run_migrations()


def run_online() -> None:
    connection: Connection = config.attributes["connection"]
    dialect = connection.dialect.name
    schema = _configure(dialect, connection=connection)
    with context.begin_transaction():
        if schema:
            # one init at a time per database; the schema before alembic's version table
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": 0x6375746F + 2})
            connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
