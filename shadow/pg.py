"""PostgreSQL helpers every shadow store shares: the schema name and the error mapping.

A shadow store lives in one PostgreSQL schema (``shadow`` by default; a parameter so two
identical pipelines can run side by side). :func:`translate_errors` maps psycopg's
exceptions onto the store port's two errors, transient or not, in one place.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from shadow.errors import ShadowConfigError
from shadow.store import StoreUnavailableError, StoreWriteError

DEFAULT_SCHEMA = "shadow"

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def checked_schema(schema: str) -> str:
    """``schema`` if it is a plain lower-case identifier (it is spliced into SQL)."""
    if not _IDENT.match(schema):
        raise ShadowConfigError("schema", f"{schema!r} is not a plain identifier")
    return schema


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else ""


@contextmanager
def translate_errors() -> Iterator[None]:
    """Map psycopg exceptions onto :class:`StoreUnavailableError` (connection-level: retry
    later) and :class:`StoreWriteError` (the store refused the statement)."""
    try:
        yield
    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
        raise StoreUnavailableError(type(exc).__name__, _first_line(exc)) from exc
    except psycopg.Error as exc:
        raise StoreWriteError(type(exc).__name__, _first_line(exc)) from exc


def anomaly_counts(dsn: str, *, schema: str = DEFAULT_SCHEMA) -> dict[str, dict[str, int]]:
    """``{context: {kind: count}}`` from a shadow store's ``delivery_anomalies`` table (empty
    when the store has none yet) — the comparators' view."""
    s = checked_schema(schema)
    out: dict[str, dict[str, int]] = {}
    with translate_errors(), psycopg.connect(dsn, autocommit=True) as conn:
        found = conn.execute("SELECT to_regclass(%s)", (f"{s}.delivery_anomalies",)).fetchone()
        if not found or found[0] is None:
            return out
        for context, kind, count in conn.execute(
            f"SELECT context, kind, count FROM {s}.delivery_anomalies"
        ):
            out.setdefault(context, {})[kind] = int(count)
    return out
