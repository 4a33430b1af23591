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

# A role named like the state schema resolves "$user" in the default search path to it once
# the schema exists: unqualified names of the application would move there. Keep them in
# public for that role in this database, as they were before the schema existed — in new
# sessions (ALTER ROLE) and in this one (set_config), whose pooled connection the caller
# may go on using to create its own tables.
KEEP_PUBLIC_FIRST = """
DO $$ BEGIN
  IF current_user = '{schema}' AND current_setting('search_path') = '"$user", public' THEN
    EXECUTE format('ALTER ROLE %I IN DATABASE %I SET search_path = public',
                   current_user, current_database());
    PERFORM set_config('search_path', 'public', false);
  END IF;
END $$
"""


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
            context.execute(KEEP_PUBLIC_FIRST.format(schema=schema))
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
            connection.execute(text(KEEP_PUBLIC_FIRST.format(schema=schema)))
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
