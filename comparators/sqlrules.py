"""The comparison rules compiled into SQL: each side's normalised record and its digest,
computed by Postgres (pure: builds SQL text, runs nothing).

:func:`compile_rules` turns a :class:`~comparators.rules.CompareOptions` and the columns an
outcome query returns into a jsonb expression over the query's row (``alias``) that is the
record as :meth:`CompareOptions.normalise` sees it: ignored paths removed (nested ones and
ones crossing lists too), numbers under ``decimals``/``tolerance`` as canonical decimal
strings, toleranced values rounded to their step (half even, as
:meth:`CompareOptions.quantise`), ASCII case folded, times truncated, unordered lists sorted.

The one promise the SQL keeps is **never coarser than Python**: two rows whose SQL digests
are equal are equal under the Python rules (so a key matched in SQL is a match). Where the
SQL cannot be sure (a float column beside an integer one, a string Python would parse as a
time but the SQL pattern does not take, non-ASCII case folding) it keeps the value apart,
and the key goes to Python, which has the last word. Custom normalisers have no SQL form:
they are named in :attr:`SqlRules.unsupported`, and keys whose SQL digests differ are judged
in Python with them (equal digests stay a match: a normaliser is a function of the record,
so equal inputs give equal outputs).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from comparators.errors import RuleError
from comparators.rules import CompareOptions
from comparators.values import split_path

JSON_COLUMN = "outcome"

SqlFn = Callable[[str], str]
"""Rewrites the SQL of one jsonb scalar."""


@dataclass(frozen=True, slots=True)
class SqlRules:
    """One side's rules as SQL over its row ``alias``.

    ``normalised``: the normalised record (jsonb); ``digest``: ``md5`` of its text (jsonb
    prints one canonical text, so equal records give equal digests on any database);
    ``params``: the query parameters both reference; ``unsupported``: rules with no SQL form
    (keys whose digests differ are judged in Python with them); ``fallback``: whether any
    rule is left to Python.

    Run queries using it with ``SET jit = off``: the expression's subqueries make the planner
    expect a costly query, and compiling it takes seconds before the first row.
    """

    normalised: str
    digest: str
    params: dict[str, Any] = field(default_factory=dict)
    unsupported: tuple[str, ...] = ()
    fallback: bool = False

    @property
    def text(self) -> str:
        """The text ``digest`` hashes."""
        return f"({self.normalised})::text"


# Type OIDs the SQL converts as psycopg + comparators.values.to_jsonable do in Python.
BOOL, INT2, INT4, INT8, OID = 16, 21, 23, 20, 26
FLOAT4, FLOAT8, NUMERIC = 700, 701, 1700
TEXT, VARCHAR, BPCHAR, NAME = 25, 1043, 1042, 19
JSON, JSONB = 114, 3802
TIMESTAMP, TIMESTAMPTZ, DATE, UUID = 1114, 1184, 1082, 2950

_NUMBER_TEXT = r"^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]{1,3})?$"
_CANONICAL_TEXT = r"^-?[0-9]+([.][0-9]+)?$"
_TIME_TEXT = (
    r"^(?!0000)[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3])"
    r":[0-5][0-9](:[0-5][0-9]([.][0-9]{1,6})?)?(Z|[+-](0[0-9]|1[0-5]):[0-5][0-9])?$"
)
_OFFSET_TEXT = r"(Z|[+-][0-9]{2}:[0-9]{2})$"
_PG_UNITS = {"minute": "minute", "second": "second", "millisecond": "milliseconds"}


class _Params:
    """Names the parameters of one compilation (``%(<alias>_p<n>)s``)."""

    def __init__(self, alias: str) -> None:
        self.prefix = f"{alias}_p"
        self.values: dict[str, Any] = {}
        self.counter = itertools.count()

    def add(self, value: Any) -> str:
        name = f"{self.prefix}{next(self.counter)}"
        self.values[name] = value
        return f"%({name})s"


@dataclass(slots=True)
class _Node:
    """Rules at one path (as :class:`comparators.compiled.Node`, with SQL actions)."""

    drop: set[str] = field(default_factory=set)
    children: dict[str, _Node] = field(default_factory=dict)
    actions: list[SqlFn] = field(default_factory=list)
    sort: bool = False

    def at(self, parts: tuple[str, ...]) -> _Node:
        node = self
        for part in parts:
            node = node.children.setdefault(part, _Node())
        return node

    def empty(self) -> bool:
        return not (self.drop or self.children or self.actions or self.sort)


def canonical_number_sql(x: str) -> str:
    """``comparators.values.canonical_number``: numbers and numeric strings as canonical
    decimal text. A JSON number Python would read as a float with more digits than a float
    keeps stays as it is (apart)."""
    lossy = f"({x}::text ~ '[.eE]' AND length(regexp_replace({x}::text, '[^0-9]', '', 'g')) > 15)"
    return (
        f"CASE WHEN jsonb_typeof({x}) = 'number' AND NOT {lossy} "
        f"THEN to_jsonb(trim_scale(({x}::text)::numeric)::text) "
        f"WHEN jsonb_typeof({x}) = 'string' AND ({x} #>> '{{}}') ~ '{_NUMBER_TEXT}' "
        f"THEN to_jsonb(trim_scale(({x} #>> '{{}}')::numeric)::text) ELSE {x} END"
    )


def fold_sql(x: str) -> str:
    """``casefold`` on ASCII letters (``lower`` in the C collation); other letters stay
    (Python folds them too: the SQL is finer, never coarser)."""
    return (
        f"CASE WHEN jsonb_typeof({x}) = 'string' "
        f"THEN to_jsonb(lower(({x} #>> '{{}}') COLLATE \"C\")) ELSE {x} END"
    )


def iso_utc_sql(ts: str) -> str:
    """A ``timestamp`` (UTC wall time) as Python's ``datetime.isoformat()`` with ``+00:00``."""
    return (
        f"to_char({ts}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN "
        f"mod(date_part('microseconds', {ts})::bigint, 1000000) <> 0 "
        f"THEN to_char({ts}, '.US') ELSE '' END || '+00:00'"
    )


def truncate_sql(unit: str) -> SqlFn:
    """``TruncateTimestamps(unit).truncate_value``: ISO 8601 strings of a valid date and
    time truncated in UTC; anything else unchanged."""
    pg_unit = _PG_UNITS[unit]

    def rewrite(x: str) -> str:
        s = f"({x} #>> '{{}}')"
        valid = (
            f"date_part('month', make_date(substr({s}, 1, 4)::int, substr({s}, 6, 2)::int, 1)"
            f" + (substr({s}, 9, 2)::int - 1)) = substr({s}, 6, 2)::int"
        )
        parsed = (
            f"CASE WHEN {s} ~ '{_OFFSET_TEXT}' THEN ({s}::timestamptz AT TIME ZONE 'UTC') "
            f"ELSE {s}::timestamp END"
        )
        truncated = f"date_trunc('{pg_unit}', {parsed})"
        return (
            f"CASE WHEN jsonb_typeof({x}) = 'string' AND {s} ~ '{_TIME_TEXT}' "
            f"THEN CASE WHEN {valid} THEN to_jsonb({iso_utc_sql(truncated)}) ELSE {x} END "
            f"ELSE {x} END"
        )

    return rewrite


def quantise_sql(step: Decimal, params: _Params) -> SqlFn:
    """``Tolerance.quantise``: a canonical decimal string rounded (half even) to a multiple
    of ``step``."""
    absolute = params.add(str(step))

    def rewrite(x: str) -> str:
        q = f"(({x} #>> '{{}}')::numeric / {absolute}::numeric)"
        steps = f"CASE WHEN abs({q} - trunc({q})) = 0.5 THEN 2 * round({q} / 2) ELSE round({q}) END"
        return (
            f"CASE WHEN jsonb_typeof({x}) = 'string' AND ({x} #>> '{{}}') ~ '{_CANONICAL_TEXT}' "
            f"THEN to_jsonb(trim_scale(({steps}) * {absolute}::numeric)::text) ELSE {x} END"
        )

    return rewrite


def _quantisable(options: CompareOptions) -> list[tuple[str, Decimal]]:
    """Tolerances the SQL may round: none with custom normalisers (Python rounds after them),
    none inside an unordered list (Python sorts before rounding)."""
    if options.normalisers:
        return []
    out = []
    for tol in options.tolerances:
        inside = any(tol.path == u or tol.path.startswith(u + ".") for u in options.unordered)
        if tol.absolute > 0 and not inside:
            out.append((tol.path, tol.absolute))
    return out


def _tree(options: CompareOptions, params: _Params) -> _Node:
    root = _Node()
    for path in options.ignore:
        parts = split_path(path)
        root.at(parts[:-1]).drop.add(parts[-1])
    decimals = dict.fromkeys((*options.decimals, *(t.path for t in options.tolerances)))
    for path in decimals:
        root.at(split_path(path)).actions.append(canonical_number_sql)
    for rule in options.truncate:
        for path in rule.paths:
            root.at(split_path(path)).actions.append(truncate_sql(rule.unit))
    for path in options.case_insensitive:
        root.at(split_path(path)).actions.append(fold_sql)
    for path, step in _quantisable(options):
        root.at(split_path(path)).actions.append(quantise_sql(step, params))
    for path in options.unordered:
        root.at(split_path(path)).sort = True
    return root


class _Walker:
    """Writes the SQL of :func:`comparators.compiled.walk` for one rule tree."""

    def __init__(self, params: _Params) -> None:
        self.params = params
        self.depth = itertools.count()

    def walk(self, x: str, node: _Node, in_list: bool = False) -> str:
        if node.empty():
            return x
        branches = []
        if node.drop or node.children:
            branches.append(f"WHEN 'object' THEN {self._object(x, node)}")
        if not in_list:  # a list in a list stays as it is (finer than Python, never coarser)
            branches.append(f"WHEN 'array' THEN {self._array(x, node)}")
        scalar = x
        for action in node.actions:
            scalar = action(f"({scalar})")
        if not branches:
            return f"({scalar})"
        return f"(CASE jsonb_typeof({x}) {' '.join(branches)} ELSE {scalar} END)"

    def _object(self, x: str, node: _Node) -> str:
        out = x
        if node.drop:
            out = f"({out} - {self.params.add(sorted(node.drop))}::text[])"
        for name, child in sorted(node.children.items()):
            if name in node.drop or child.empty():
                continue
            key = self.params.add(name)
            value = self.walk(f"({x} -> {key}::text)", child)
            out = f"jsonb_set({out}, ARRAY[{key}::text], coalesce({value}, 'null'::jsonb), false)"
        return out

    def _array(self, x: str, node: _Node) -> str:
        n = next(self.depth)
        e, o, v = f"e{n}", f"o{n}", f"v{n}"
        order = f'{v}::text COLLATE "C"' if node.sort else o
        inner = self.walk(e, node, True)
        return (
            f"(SELECT coalesce(jsonb_agg({v} ORDER BY {order}), '[]'::jsonb) FROM "
            f"(SELECT {inner} AS {v}, {o} FROM jsonb_array_elements({x}) "
            f"WITH ORDINALITY AS t{n}({e}, {o})) AS s{n})"
        )


def column_json(column: str, oid: int, numeric_rule: bool, alias: str = "src") -> str:
    """The jsonb of one column as Python sees it after ``to_jsonable`` (decimals and times
    as text, ...). A type whose Python form the SQL cannot reproduce is kept apart by a
    prefix naming its type (a float beside an integer), unless a decimals rule turns it
    into canonical text anyway."""
    col = quote_ident(column, alias)
    if oid in (BOOL, INT2, INT4, INT8, TEXT, VARCHAR, BPCHAR, NAME):
        return f"to_jsonb({col})"
    if oid == NUMERIC:
        return f"to_jsonb(trim_scale({col})::text)"
    if oid in (JSON, JSONB):
        return f"({col})::jsonb"
    if oid == TIMESTAMPTZ:
        return f"to_jsonb({iso_utc_sql(f'({col} AT TIME ZONE {chr(39)}UTC{chr(39)})')})"
    if oid == TIMESTAMP:
        return f"to_jsonb({iso_utc_sql(col)})"
    if oid in (DATE, UUID):
        return f"to_jsonb({col}::text)"
    if oid in (FLOAT4, FLOAT8) and numeric_rule:
        return f"to_jsonb({col}::text)"
    return f"to_jsonb('{oid}:' || {col}::text)"


def quote_ident(column: str, alias: str = "") -> str:
    name = '"' + column.replace('"', '""') + '"'
    return f"{alias}.{name}" if alias else name


def compile_rules(
    options: CompareOptions,
    described: Sequence[tuple[str, int]],
    *,
    json_column: str | None,
    alias: str = "src",
) -> SqlRules:
    """The normalised record and digest of one side's rows as SQL over ``alias``.

    ``described``: the query's columns and type OIDs; ``json_column``: the one jsonb column
    holding the whole record (``outcome``), else ``None`` (the columns are the record).
    """
    params = _Params(alias)
    tree = _tree(options, params)
    walker = _Walker(params)
    if json_column is not None:
        root = f"(({quote_ident(json_column, alias)})::jsonb)"
        normalised = walker.walk(root, tree)
    else:
        normalised = _columns_object(described, tree, walker, alias)
    unsupported = tuple(n.name for n in options.normalisers)
    return SqlRules(
        normalised=normalised,
        digest=f"md5(({normalised})::text)",
        params=params.values,
        unsupported=unsupported,
        fallback=bool(unsupported),
    )


def _columns_object(
    described: Sequence[tuple[str, int]], tree: _Node, walker: _Walker, alias: str
) -> str:
    pairs = []
    for column, oid in described:
        if column in tree.drop:
            continue
        child = tree.children.get(column, _Node())
        numeric_rule = canonical_number_sql in child.actions
        value = column_json(column, oid, numeric_rule, alias)
        if oid not in (JSON, JSONB):  # a scalar: only the value rewrites apply
            actions = child.actions
            if oid == NUMERIC:  # already canonical decimal text
                actions = [a for a in actions if a is not canonical_number_sql]
            for action in actions:
                value = action(f"({value})")
        else:
            value = walker.walk(value, child)
        pairs.append(f"{walker.params.add(column)}::text, {value}")
    if not pairs:
        return "'{}'::jsonb"
    chunks = [pairs[i : i + 50] for i in range(0, len(pairs), 50)]
    return " || ".join(f"jsonb_build_object({', '.join(c)})" for c in chunks)


def unknown_columns(options: CompareOptions, columns: Sequence[str]) -> tuple[str, ...]:
    """Rule paths (other than ``ignore``) whose first field is none of ``columns``."""
    paths = (
        *options.decimals,
        *(t.path for t in options.tolerances),
        *(p for t in options.truncate for p in t.paths),
        *options.case_insensitive,
        *options.unordered,
    )
    known = set(columns)
    return tuple(dict.fromkeys(p for p in paths if split_path(p)[0] not in known))


def check_columns(options: CompareOptions, *sides: Sequence[str]) -> None:
    """Raise :class:`RuleError` for a rule naming a field no side's query returns (a side
    whose record is one JSON ``outcome`` column could hold any field: nothing is checked)."""
    if any(list(columns) == [JSON_COLUMN] for columns in sides):
        return
    missing = set(unknown_columns(options, sides[0]) if sides else ())
    for columns in sides[1:]:
        missing &= set(unknown_columns(options, columns))
    if missing:
        first = sorted(missing)[0]
        raise RuleError(first, f"no outcome query returns a column {split_path(first)[0]!r}")
