"""Whether Postgres itself proves an outcome query's key unique (I/O: one ``EXPLAIN``).

A comparison must count a key held twice as ``duplicate``, never as a match, so each side
is grouped by key unless the key is known unique. Grouping a million rows by key costs
seconds; a unique index costs nothing to trust. The proof is the planner's own: Postgres
removes a ``LEFT JOIN`` whose inner side is provably distinct on the join column (a unique
index or primary key on a plain table, a ``GROUP BY``/``DISTINCT`` on it, with any
``WHERE``), and keeps it otherwise. So::

    EXPLAIN SELECT 1 FROM unnest(ARRAY[]::<key type>[]) AS x(k)
    LEFT JOIN (<outcome query>) AS s ON s."<key>" = x.k

plans no join, and touches no relation of the query, exactly when the key is unique in the
query's rows. Anything the planner cannot prove (a join of two tables, a ``UNION``, a view
it cannot flatten, a key inside a JSON document) is "not proven": that side is grouped, as
before. Rows with a NULL key are not excluded by a unique index; the comparisons find and
refuse them separately.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg

from comparators.sources import JSON_COLUMN, SqlSource


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def key_proven_unique(
    conn: psycopg.Connection[Any], source: SqlSource, described: Sequence[tuple[str, int]]
) -> bool:
    """Whether the planner proves ``source``'s key column unique over its query's rows
    (see the module docstring); ``False`` when it cannot tell."""
    names = [n for n, _ in described]
    if names == [JSON_COLUMN] or source.key not in names:
        return False
    type_oid = dict(described)[source.key]
    try:
        with conn.transaction(), conn.cursor() as cur:
            row = cur.execute("SELECT format_type(%s, NULL)", (type_oid,)).fetchone()
            if row is None or row[0] is None:
                return False
            sql = (
                f"EXPLAIN (FORMAT JSON) SELECT 1 FROM unnest(ARRAY[]::{row[0]}[]) AS x(k) "
                f"LEFT JOIN ({source._inner()}) AS s ON s.{_quoted(source.key)} = x.k"
            )
            plan = cur.execute(sql).fetchone()
    except psycopg.Error:
        return False  # no equality operator for the type, ...: not proven
    if plan is None:
        return False
    return _join_removed(plan[0])


def _join_removed(explained: Any) -> bool:
    """Whether the plan is the bare function scan (the join and its relations removed)."""
    doc = json.loads(explained) if isinstance(explained, str) else explained
    top: Mapping[str, Any] = doc[0]["Plan"]
    return top.get("Node Type") == "Function Scan" and not top.get("Plans")
