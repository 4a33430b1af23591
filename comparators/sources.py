"""Outcome sources (I/O): where control and candidate observations come from.

Every source yields :class:`~comparators.diff.Observation` sorted by key, for
one :class:`ReadWindow` (rows newer than a watermark, one key-hash partition).

* :class:`SqlSource` — any SQL returning one row per key: the record is whatever columns
  the team's query returns (the key and ``produced_at`` among them), or a single JSON column
  ``outcome``; read
  through a psycopg server-side (named) cursor in ``itersize`` batches, ordered
  and filtered on the server, so memory stays bounded. ``jsonb`` columns stay
  unparsed text until a record must be looked into (:class:`RawJson`). With
  digest pushdown (both sides SQL, no invariants) Postgres hashes every row and
  only the keys whose digests differ are fetched in full (:class:`DeferredRecord`).
* :class:`CallableSource` — ``"module:function"`` returning an iterable of records:
  mappings, or objects with a ``to_dict()`` giving one (:class:`Record`).
* :class:`InMemorySource` — a list, for tests and the A/A calibration of fakes.

Every source reads the key's write-time mode from its mode column (``write_mode`` by
default, the plan's ``compare.mode_column``) into :attr:`Observation.mode`; with digest
pushdown the column is selected beside the digest (and left out of it), so deciding
whether a key is in scope never fetches its row. The inconclusive column (``inconclusive``
by default, the plan's ``compare.inconclusive_column``) is read the same way into
:attr:`Observation.inconclusive` and never compared. A record object may carry it in an
``extra`` mapping (``extra={"write_mode": "dual"}``), which the record includes.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

import psycopg
import structlog
from psycopg.abc import Buffer
from psycopg.adapt import Loader
from psycopg.rows import dict_row

from comparators.diff import (
    DEFAULT_INCONCLUSIVE_FIELD,
    DEFAULT_MODE_FIELD,
    Observation,
    flag,
    observation,
    sort_observations,
)
from comparators.errors import SourceError
from comparators.partition import Partition
from comparators.rules import load_target
from comparators.values import RawJson

log = structlog.get_logger(__name__)

JSON_COLUMN = "outcome"


@dataclass(frozen=True, slots=True)
class ReadWindow:
    """Which rows to read: ``produced_at`` after ``since`` (if set), keys in ``partition``.

    ``digest_ignore`` (set by :func:`pushdown_window` when both sides can) asks SQL
    sources for digests instead of rows: Postgres hashes each row's JSON form
    without those top-level fields, and full rows are fetched only for keys
    whose digests differ.
    """

    since: datetime | None = None
    partition: Partition = field(default_factory=Partition)
    digest_ignore: tuple[str, ...] | None = None

    def admits(self, obs: Observation) -> bool:
        return (self.since is None or obs.produced_at > self.since) and self.partition.contains(
            obs.key
        )


class OutcomeSource(Protocol):
    """A port: key-sorted observations of one side."""

    @property
    def name(self) -> str: ...

    def observations(self, window: ReadWindow) -> Iterator[Observation]: ...


class RecordObject(Protocol):
    """An outcome record as an object: ``to_dict()`` gives its mapping; an ``extra`` mapping
    attribute, when it has one, adds fields (the write-time mode, say)."""

    def to_dict(self) -> Mapping[str, Any]: ...


Record = RecordObject | Mapping[str, Any]
"""What a source is given: a mapping (column -> value), or an object that makes one."""


def _as_record(item: Record) -> Mapping[str, Any]:
    if isinstance(item, Mapping):
        return item
    record = item.to_dict()
    extra = getattr(item, "extra", None)
    return {**record, **extra} if isinstance(extra, Mapping) and extra else record


@dataclass(frozen=True, slots=True)
class InMemorySource:
    """Records held in memory (mappings, or objects with ``to_dict()``)."""

    records: Sequence[Record]
    name: str = "memory"
    key: str = field(kw_only=True)
    """The business key column (the plan's ``outcome.key``; no default)."""
    mode_column: str | None = DEFAULT_MODE_FIELD
    inconclusive_column: str | None = DEFAULT_INCONCLUSIVE_FIELD

    def observations(self, window: ReadWindow) -> Iterator[Observation]:
        items = (
            observation(
                _as_record(r), self.key, self.name, self.mode_column, self.inconclusive_column
            )
            for r in self.records
        )
        yield from sort_observations(o for o in items if window.admits(o))


@dataclass(frozen=True, slots=True)
class CallableSource:
    """``"module:function"`` returning an iterable of outcomes; ``kwargs`` are passed to it.

    Unless ``presorted`` (the function yields in key order, ``str`` comparison),
    the rows are sorted in memory.
    """

    target: str
    name: str = "callable"
    key: str = field(kw_only=True)
    """The business key column (the plan's ``outcome.key``; no default)."""
    presorted: bool = False
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    mode_column: str | None = DEFAULT_MODE_FIELD
    inconclusive_column: str | None = DEFAULT_INCONCLUSIVE_FIELD

    def observations(self, window: ReadWindow) -> Iterator[Observation]:
        fn: Callable[..., Iterable[Record]] = load_target(self.target)
        with translate_errors(self.name):  # a callable reading a database (e.g. SQLAlchemy)
            items = (
                observation(
                    _as_record(r), self.key, self.name, self.mode_column, self.inconclusive_column
                )
                for r in fn(**self.kwargs)
            )
            admitted = (o for o in items if window.admits(o))
            yield from admitted if self.presorted else sort_observations(admitted)


def db_primary(exc: BaseException) -> str:
    """The server's primary message of a database error (``column "total" does not exist``),
    else the first line of its text; never the query or connection."""
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    return str(primary or (str(exc).strip().splitlines() or [""])[0])


def db_message(exc: BaseException) -> str:
    """A database error in one line: its type and the server's primary message (e.g.
    ``UndefinedColumn: column "total" does not exist``), never the query or connection."""
    return f"{type(exc).__name__}: {db_primary(exc)}"


OUTCOME_SIDES = ("sync", "event", "verify")


def query_failure(exc: SourceError) -> str:
    """The one line a failed comparison states for a source that could not read its outcomes
    (``sync outcome query failed: column "total" does not exist``)."""
    side = exc.side.split(":", 1)[0]
    where = f"{side} outcome query" if side in OUTCOME_SIDES else "outcome query"
    cause = exc.__cause__
    orig = getattr(cause, "orig", None)
    db = cause if isinstance(cause, psycopg.Error) else orig
    reason = db_primary(db) if isinstance(db, psycopg.Error) else exc.reason
    return f"{where} failed: {reason}"


QUERY_SQLSTATE_CLASSES = ("42", "22", "0A", "21", "23", "2B", "P0")
"""SQLSTATE classes of a query that is wrong for the database it reads (syntax, undefined
column or table, data exceptions, unsupported features, ...); other classes (connection,
shutdown, resources), or none (the connection was refused), mean the database could not be
read."""


def unreachable(exc: psycopg.Error) -> bool:
    """Whether ``exc`` says the database could not be read (not that the query is wrong)."""
    sqlstate = getattr(exc, "sqlstate", None)
    return not sqlstate or str(sqlstate)[:2] not in QUERY_SQLSTATE_CLASSES


@contextmanager
def translate_errors(side: str) -> Iterator[None]:
    """psycopg errors, also wrapped by SQLAlchemy (``orig``), become :class:`SourceError`
    with the database's one-line message (without the connection string), marked
    ``unreachable`` unless the query itself was wrong."""
    try:
        yield
    except psycopg.Error as exc:
        raise SourceError(side, db_message(exc), unreachable=unreachable(exc)) from exc
    except Exception as exc:
        orig = getattr(exc, "orig", None)
        if isinstance(orig, psycopg.Error):
            raise SourceError(side, db_message(orig), unreachable=unreachable(orig)) from exc
        raise


def libpq_url(url: str) -> str:
    """Accept SQLAlchemy URLs too: ``postgresql+psycopg://`` -> ``postgresql://``."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+')[0]}{sep}{rest}" if sep else url


PLAIN_TEXT_TYPES = frozenset(
    {16, 20, 21, 23, 26, 114, 700, 701, 1082, 1083, 1114, 1184, 1186, 1266, 1700, 2950, 3802}
)
"""Type OIDs whose text is never empty and never holds a control character (bool, integers,
oid, json, floats, dates and times, interval, numeric, uuid, jsonb: Postgres refuses raw
control characters in JSON): printed as they are; NULL as a record separator (0x1e)."""


def field_text(column: str, type_oid: int) -> str:
    """One column's part of a digest's text, unambiguous once joined by 0x1f: plain types
    as printed (NULL: 0x1e), every other type quoted (``quote_nullable``: NULL unquoted).
    Cheaper than the composite's text, which scans every value for quoting."""
    if type_oid in PLAIN_TEXT_TYPES:
        return f"coalesce(({column})::text, E'\\x1e')"
    return f"quote_nullable(({column})::text)"


def row_expr(columns: Sequence[tuple[str, int]], alias: str = "src") -> str:
    """``ROW(...)`` of ``columns`` of the row ``alias`` (the digest's composite)."""
    fields = ", ".join(f'{alias}."' + n.replace('"', '""') + '"' for n, _ in columns)
    return f"ROW({fields})"


@dataclass(frozen=True, slots=True)
class SqlSource:
    """Rows of ``sql`` (one per key) read with a server-side cursor.

    ``conninfo`` is a libpq/SQLAlchemy URL or DSN (it holds the password: it is
    never logged). The query is wrapped, never edited: the source adds the
    window filter and ``ORDER BY key COLLATE "C"`` around it.
    """

    conninfo: str = field(repr=False)
    sql: str
    name: str = "sql"
    key: str = field(kw_only=True)
    """The business key column (the plan's ``outcome.key``; no default)."""
    itersize: int = 5000
    lazy_json: bool = True
    pushdown: bool = True
    mode_column: str | None = DEFAULT_MODE_FIELD
    inconclusive_column: str | None = DEFAULT_INCONCLUSIVE_FIELD

    def _connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(libpq_url(self.conninfo))
        if self.lazy_json:
            conn.adapters.register_loader("jsonb", _RawJsonLoader)
            conn.adapters.register_loader("json", _RawJsonLoader)
        return conn

    def describe(self, conn: psycopg.Connection[Any]) -> list[tuple[str, int]]:
        """Names and type OIDs of the query's columns."""
        with conn.cursor() as cur:
            cur.execute(f"SELECT * FROM ({self._inner()}) AS src LIMIT 0")
            return [(c.name, c.type_code) for c in cur.description or ()]

    def _inner(self) -> str:
        return self.sql.strip().rstrip(";")

    def _exprs(self, columns: Sequence[str]) -> tuple[str, str]:
        """SQL for the key and ``produced_at``."""
        if list(columns) == [JSON_COLUMN]:
            doc = f"(src.{JSON_COLUMN})::jsonb"
            return f"{doc}->>'{self.key}'", f"({doc}->>'produced_at')::timestamptz"
        if self.key in columns:
            return f'src."{self.key}"::text', 'src."produced_at"'
        raise SourceError(self.name, f"query has no column {self.key!r} (nor one JSON 'outcome')")

    def _mode_expr(self, columns: Sequence[str]) -> str:
        """SQL for the write-time mode (NULL when the query has no mode column)."""
        return self._text_expr(columns, self.mode_column, "mode_column")

    def _text_expr(self, columns: Sequence[str], col: str | None, param: str) -> str:
        """SQL for the text of the never-compared column ``col`` (NULL when the query has none;
        ``%(param)s`` holds its name in a JSON ``outcome``)."""
        if not col:
            return "NULL::text"
        if list(columns) == [JSON_COLUMN]:
            return f"((src.{JSON_COLUMN})::jsonb)->>%({param})s"
        if col in columns:
            return 'src."' + col.replace('"', '""') + '"::text'
        return "NULL::text"

    def _digest_expr(
        self, described: Sequence[tuple[str, int]], ignore: Sequence[str], params: dict[str, Any]
    ) -> str:
        """md5 of :meth:`_digest_text`."""
        return f"md5({self._digest_text(described, ignore, params)})"

    def _digest_text(
        self, described: Sequence[tuple[str, int]], ignore: Sequence[str], params: dict[str, Any]
    ) -> str:
        """The text a digest hashes: the row without ignored columns (nor the mode column),
        each column's text (:func:`field_text`) joined by a unit separator, plus the column
        names and types (so equal digests need equal types too); jsonb for a JSON column.
        Two rows give equal texts only if every compared column's text is equal."""
        names = [n for n, _ in described]
        if names == [JSON_COLUMN]:
            never = (self.mode_column, self.inconclusive_column)
            params["ignore"] = [*ignore, *(c for c in never if c)]
            return f"(((src.{JSON_COLUMN})::jsonb) - %(ignore)s::text[])::text"
        kept = self.compared(described, ignore)
        params["signature"] = "|" + ",".join(f"{n}:{t}" for n, t in kept)
        fields = ", ".join(
            field_text(f'src."{n.replace(chr(34), chr(34) * 2)}"', t) for n, t in kept
        )
        return f"concat_ws(E'\\x1f', {fields}) || %(signature)s"

    def compared(
        self, described: Sequence[tuple[str, int]], ignore: Sequence[str]
    ) -> list[tuple[str, int]]:
        """The (name, type OID) of the columns a top-level digest covers, by name: all but
        ``ignore``, the mode and the inconclusive column."""
        never = {*ignore, *(c for c in (self.mode_column, self.inconclusive_column) if c)}
        return sorted((n, t) for n, t in described if n not in never)

    def query(
        self,
        columns: Sequence[str],
        window: ReadWindow,
        described: Sequence[tuple[str, int]] = (),
    ) -> tuple[str, dict[str, Any]]:
        """The wrapped SQL and its parameters for ``window`` (rows, or digests)."""
        key_expr, at_expr = self._exprs(columns)
        where = [window.partition.sql_predicate(key_expr)]
        params: dict[str, Any] = {}
        if window.since is not None:
            where.append(f"{at_expr} > %(since)s")
            params["since"] = window.since
        select = "*"
        if window.digest_ignore is not None:
            typed = described or [(c, 0) for c in columns]
            digest_sql = self._digest_expr(typed, window.digest_ignore, params)
            mode_sql = self._mode_expr(columns)
            if "%(mode_column)s" in mode_sql:
                params["mode_column"] = self.mode_column
            flag_sql = self._text_expr(columns, self.inconclusive_column, "inconclusive_column")
            if "%(inconclusive_column)s" in flag_sql:
                params["inconclusive_column"] = self.inconclusive_column
            select = (
                f"{key_expr} AS k, {at_expr} AS at, {digest_sql} AS d, {mode_sql} AS m, "
                f"{flag_sql} AS i"
            )
        sql = (
            f"SELECT {select} FROM ({self._inner()}) AS src WHERE {' AND '.join(where)} "
            f'ORDER BY ({key_expr}) COLLATE "C"'
        )
        return sql, params

    def fetch(
        self, conn: psycopg.Connection[Any], columns: Sequence[str], key: str
    ) -> Mapping[str, Any]:
        """The full row of one key (the first, if the source has several)."""
        key_expr = self._exprs(columns)[0]
        sql = f"SELECT * FROM ({self._inner()}) AS src WHERE ({key_expr}) = %(key)s LIMIT 1"
        with translate_errors(self.name), conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(sql, {"key": key}).fetchone()
        if row is None:
            raise SourceError(self.name, f"row {key!r} vanished while comparing")
        return _json_record(row[JSON_COLUMN]) if list(columns) == [JSON_COLUMN] else row

    def observations(self, window: ReadWindow) -> Iterator[Observation]:
        with translate_errors(self.name), self._connect() as conn:
            described = self.describe(conn)
            cols = [name for name, _ in described]
            sql, params = self.query(cols, window, described)
            log.info("source.reading", source=self.name, partition=str(window.partition))
            if window.digest_ignore is not None:
                yield from self._digests(conn, cols, sql, params)
                return
            json_mode = cols == [JSON_COLUMN]
            with conn.cursor(name=self._cursor_name(), row_factory=dict_row) as cur:
                cur.itersize = self.itersize
                cur.execute(sql, params)
                for row in cur:
                    record = _json_record(row[JSON_COLUMN]) if json_mode else row
                    yield observation(
                        record, self.key, self.name, self.mode_column, self.inconclusive_column
                    )

    def _digests(
        self, conn: psycopg.Connection[Any], cols: list[str], sql: str, params: dict[str, Any]
    ) -> Iterator[Observation]:
        loader = functools.partial(self._fetch_any, conn, cols)
        with conn.cursor(name=self._cursor_name()) as cur:
            cur.itersize = self.itersize
            cur.execute(sql, params)
            for key, at, hexdigest, mode, inconclusive in cur:
                if key is None:
                    raise SourceError(self.name, f"a row has a NULL key {self.key!r}")
                record = DeferredRecord(key, loader)
                yield Observation(
                    key, record, at, bytes.fromhex(hexdigest), mode, flag(inconclusive)
                )

    def _fetch_any(
        self, conn: psycopg.Connection[Any], cols: list[str], key: str
    ) -> Mapping[str, Any]:
        """Fetch on the reading connection, or on a new one once reading has finished
        (the engine judges the last keys after the stream is exhausted)."""
        if not conn.closed:
            return self.fetch(conn, cols, key)
        with translate_errors(self.name), self._connect() as fresh:
            return self.fetch(fresh, cols, key)

    def _cursor_name(self) -> str:
        return f"cutover_{self.name}_{uuid.uuid4().hex[:8]}"


class DeferredRecord(Mapping[str, Any]):
    """A row fetched from its source on first access (digest pushdown).

    While the source is being read it uses the reading connection; afterwards it
    opens a connection of its own.
    """

    __slots__ = ("_data", "_key", "_loader")

    def __init__(self, key: str, loader: Callable[[str], Mapping[str, Any]]) -> None:
        self._key = key
        self._loader = loader
        self._data: Mapping[str, Any] | None = None

    def _row(self) -> Mapping[str, Any]:
        if self._data is None:
            self._data = self._loader(self._key)
        return self._data

    def __getitem__(self, name: str) -> Any:
        return self._row()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._row())

    def __len__(self) -> int:
        return len(self._row())


def pushdown_window(
    control: OutcomeSource,
    candidate: OutcomeSource,
    ignore: Sequence[str],
    invariants: bool,
    window: ReadWindow,
) -> ReadWindow:
    """``window`` with digest pushdown switched on when it is safe and useful: both sides
    SQL, no invariants (they need every row), every ignored path top-level."""
    if not (isinstance(control, SqlSource) and isinstance(candidate, SqlSource)):
        return window
    if invariants or any("." in p for p in ignore) or not (control.pushdown and candidate.pushdown):
        return window
    return replace(window, digest_ignore=tuple(ignore))


class _RawJsonLoader(Loader):
    """Loads json/jsonb as :class:`RawJson` text (parsed later, only if needed)."""

    def load(self, data: Buffer) -> RawJson:
        return RawJson(bytes(data).decode("utf-8"))


def _json_record(value: Any) -> Mapping[str, Any]:
    data = json.loads(value) if isinstance(value, str | bytes) else value
    if not isinstance(data, Mapping):
        raise SourceError("sql", "the 'outcome' column is not a JSON object")
    return data
