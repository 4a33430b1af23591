"""Range checksums with bisection over two :class:`~comparators.sources.SqlSource` (I/O).

:class:`PgRangeStore` is the Postgres side of :class:`comparators.bisect.RangeStore`: it
reads its source's query once into a temporary table of one narrow row per key (key, key
hash, row hash, digest, ``produced_at``, mode, inconclusive, special), then answers range
aggregates and leaf fetches from that table. A temporary table needs only the ``TEMP``
privilege every role has by default; it lives as long as the store's connection.

:func:`compare_by_ranges` splits the key hash space into ``workers`` slices (one store per
side and slice, each on its own connection), bisects them in a thread pool, and returns the
key-sorted streams for :func:`comparators.diff.observe`; :func:`compare_ranges` runs the
whole comparison and returns its :class:`~comparators.result.ComparisonResult`.
"""

from __future__ import annotations

import json
import math
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Protocol

import psycopg
import structlog
from psycopg.rows import dict_row

from comparators.bisect import (
    HASH_BITS,
    MASK64,
    MICROSECOND,
    BisectPlan,
    BisectStats,
    MatchedTotals,
    Range,
    RangeComparison,
    RangeSum,
    RowRules,
    bisect_slices,
    fold_matched,
    with_duplicates,
)
from comparators.diff import TRUE_TEXTS, Observation, Scope, flag, observe
from comparators.errors import SourceError
from comparators.partition import Partition
from comparators.result import Accumulator, ComparisonResult, bucket_start
from comparators.rules import CompareOptions
from comparators.sources import (
    JSON_COLUMN,
    DeferredRecord,
    ReadWindow,
    SqlSource,
    translate_errors,
)
from comparators.sources import (
    _json_record as json_record,
)
from comparators.sqlrules import compile_rules
from comparators.unique import key_proven_unique

log = structlog.get_logger(__name__)


class DigestSql(Protocol):
    """A digest expression over the row ``src`` and its parameters (what
    ``comparators.sqlrules.compile_rules`` returns as ``SqlRules``)."""

    @property
    def digest(self) -> str: ...

    @property
    def text(self) -> str: ...

    @property
    def params(self) -> Mapping[str, Any]: ...


DigestRules = Callable[[SqlSource, Sequence[tuple[str, int]]], DigestSql]
"""Builds one side's digest SQL from its source and its described columns."""


@dataclass(frozen=True, slots=True)
class PushdownDigest:
    """:class:`DigestSql` of digest pushdown: md5 of the row without top-level ignored columns."""

    digest: str
    params: Mapping[str, Any]
    text: str = ""


def pushdown_rules(ignore: Sequence[str]) -> DigestRules:
    """The digest of today's pushdown (``SqlSource``'s), ignoring top-level ``ignore``."""

    def build(source: SqlSource, described: Sequence[tuple[str, int]]) -> DigestSql:
        params: dict[str, Any] = {}
        text = source._digest_text(described, ignore, params)
        return PushdownDigest(f"md5({text})", params, text)

    return build


def digest_rules(options: CompareOptions) -> DigestRules:
    """The cheapest digest that is never coarser than ``options``: the row's own text
    (:func:`pushdown_rules`) when only top-level fields are ignored, else :func:`sql_rules`
    (a digest mismatch is judged by the engine with every rule, so a finer digest costs
    fetches, never a wrong match)."""
    if top_level_only(options):
        return pushdown_rules(options.ignore)
    return sql_rules(options)


def top_level_only(options: CompareOptions) -> bool:
    """Whether ``options`` only ignore top-level fields (no other rule): the row's own text,
    or its binary image, is then never coarser than the rules."""
    rules = (
        options.decimals,
        options.tolerances,
        options.truncate,
        options.case_insensitive,
        options.unordered,
        options.normalisers,
    )
    return not any(rules) and not any("." in p for p in options.ignore)


def sql_rules(options: CompareOptions) -> DigestRules:
    """Each side's digest of its record normalised in SQL by ``options``
    (:func:`comparators.sqlrules.compile_rules`): the default."""

    def build(source: SqlSource, described: Sequence[tuple[str, int]]) -> DigestSql:
        json_column = JSON_COLUMN if [n for n, _ in described] == [JSON_COLUMN] else None
        return compile_rules(options, described, json_column=json_column)

    return build


RANGE_WORKERS = 1
"""Worker slices of a range comparison: each slice has one connection to each database, so
one slice already runs both sides at once; more slices split each database's scan across
more connections (measured on 2 cores, both databases on one server, 1M rows per side, all
rows matching: 1 slice 4.4 s, 2 slices 5.9 s, reladiff's hashdiff 4.9-5.1 s)."""

TIME_BUCKET = "(floor(date_part('epoch', at))::bigint / %(b)s) * %(b)s"
KEY_HASH = "(hashtext(k)::bigint & 4294967295)"
"""The key's 32-bit hash: Postgres's own string hash (far cheaper than an md5 per key)."""
ROW_HASH = "(d # (h << 31) # coalesce(('x' || left(md5(m), 8))::bit(32)::bigint, 0) # g)"
"""The row hash (:func:`comparators.bisect.row_hash`): the 64-bit digest mixed with the key
hash, the mode's md5 prefix (only when there is a mode) and the settle slot."""
ROW_DIGEST = "hashtextextended({text}, 0)"
"""A row's 64-bit digest: Postgres's own 64-bit string hash of the digest's text (the hash
of hash partitioning, which Postgres keeps stable across versions so partitions survive
upgrades; far cheaper than md5 and its hex). Should two servers ever disagree, every row
would differ and be judged from its full rows: slower, never a wrong match."""


class PgRangeStore:
    """One side's rows of one worker slice in a temporary table (see the module docstring)."""

    def __init__(
        self,
        source: SqlSource,
        window: ReadWindow,
        rules: RowRules,
        digest: DigestRules,
        worker: Partition,
        *,
        itersize: int = 10_000,
        materialise: bool = False,
    ) -> None:
        self.name = source.name
        self.source = source
        self.window = window
        self.rules = rules
        self.digest = digest
        self.worker = worker
        self.itersize = itersize
        self.materialise = materialise
        self._from = ""
        self._params: dict[str, Any] = {}
        self._dups: list[int] = []
        self.unique = False
        self._special: int | None = None
        """Special rows the first level counted (``None``: not counted yet)."""
        self.special_keys: set[str] = set()
        """The keys of the special rows :meth:`rows` has returned so far."""
        """The planner proves the key unique (:mod:`comparators.unique`): no duplicate check."""
        self.table = f"cutover_ranges_{uuid.uuid4().hex[:12]}"
        self._conn: psycopg.Connection[Any] | None = None
        self._cols: list[str] = []
        self._timeline: dict[int, int] = {}
        self._returned: Counter[int] = Counter()

    def prepare(self) -> None:
        """Describe the query and build the per-key rows' SQL; with ``materialise``, read it
        once into a temporary table (else every level reads the query again)."""
        with translate_errors(self.name):
            conn = self._conn = self.source._connect()
            described = self.source.describe(conn)
            self._cols = [n for n, _ in described]
            self.unique = key_proven_unique(conn, self.source, described)
            # the workers' and sides' connections already share the cores
            conn.execute("SET max_parallel_workers_per_gather = 0")
            rows, self._params = self._materialise(described)
            self._from = f"({rows}) AS r"
            if self.materialise:
                conn.execute(f"CREATE TEMP TABLE {self.table} AS {rows}", self._params)
                self._from, self._params = self.table, {}

    def _window(self, key_expr: str) -> tuple[str, dict[str, Any]]:
        """The WHERE clause of the window (its partition and ``since``)."""
        where = [self.window.partition.sql_predicate(key_expr)]
        params: dict[str, Any] = {}
        if self.window.since is not None:
            where.append(f"{self.source._exprs(self._cols)[1]} > %(since)s")
            params["since"] = self.window.since
        return " AND ".join(where), params

    def _slice(self) -> str:
        """This worker's slice of the key hash ``h`` (NULL keys: the first slice's)."""
        w = self.worker
        if w.is_whole:
            return "TRUE"
        mine = f"((h * {w.count}) >> {HASH_BITS}) = {w.index}"
        return f"({mine} OR h IS NULL)" if w.index == 0 else mine

    def _materialise(self, described: Sequence[tuple[str, int]]) -> tuple[str, dict[str, Any]]:
        src, cols, rules = self.source, self._cols, self.rules
        key_expr, at_expr = src._exprs(cols)
        built = self.digest(src, described)
        params: dict[str, Any] = dict(built.params)
        mode_sql = src._mode_expr(cols)
        if "%(mode_column)s" in mode_sql:
            params["mode_column"] = src.mode_column
        flag_sql = src._text_expr(cols, src.inconclusive_column, "inconclusive_column")
        if "%(inconclusive_column)s" in flag_sql:
            params["inconclusive_column"] = src.inconclusive_column
        where, window_params = self._window(key_expr)
        params.update(window_params)
        special = ["lower(btrim(i)) = ANY(%(truthy)s)", "at > %(fresh_after)s"]
        params["truthy"] = sorted(TRUE_TEXTS)
        params["fresh_after"] = rules.now - rules.settle
        if rules.since is not None:
            special.append("at <= %(scope_since)s")
            params["scope_since"] = rules.since
        if rules.modes is not None:
            special.append("(m IS NOT NULL AND NOT m = ANY(%(modes)s))")
            params["modes"] = sorted(rules.modes)
        step = rules.settle // MICROSECOND
        params["grid"] = max(step, 1)
        rows = (
            f"SELECT {key_expr} AS k, {at_expr} AS at, "
            f"{ROW_DIGEST.format(text=built.text)} AS d, {mode_sql} AS m, "
            f"{flag_sql} AS i FROM ({src._inner()}) AS src WHERE {where}"
        )
        slot = "floor((extract(epoch FROM at) * 1000000) / %(grid)s)::bigint"
        hashed = (
            f"SELECT *, {KEY_HASH} AS h, {slot if rules.exact_late else '0'} AS g "
            f"FROM ({rows}) AS r"
        )
        sql = (
            f"SELECT k, h, {ROW_HASH} AS x, d, at, m, i, "
            f"coalesce({' OR '.join(special)}, false) AS special FROM ({hashed}) AS g "
            f"WHERE {self._slice()}"
        )
        return sql, params

    def sums(self, shift: int, parent_shift: int, parents: Sequence[int]) -> Mapping[int, RangeSum]:
        """One query per level. The first level (``parent_shift`` 32) also counts the plain rows
        per timeline bucket (grouping sets: the same scan) and finds NULL keys."""
        first = parent_shift >= HASH_BITS
        params: dict[str, Any] = {**self._params, "s": shift, "b": self.rules.bucket_seconds}
        # IN (SELECT unnest(...)) is a hashed subplan; = ANY(%s) would scan the array per row
        if first:
            return self._first_level(shift)
        sql = (
            f"SELECT h >> %(s)s, count(*), sum(x), bit_xor(x) FROM {self._from} WHERE NOT special "
            "AND (h >> %(ps)s) IN (SELECT unnest(%(parents)s::bigint[])) GROUP BY 1"
        )
        params.update(ps=parent_shift, parents=list(parents))
        with translate_errors(self.name):
            found = _sums(self._connection().execute(sql, params))
        return with_duplicates(found, self._dups, shift)

    def _first_level(self, shift: int) -> Mapping[int, RangeSum]:
        """One scan: the ranges' sums over plain rows, the plain rows per timeline bucket, the
        keys held twice (special rows too) and NULL keys (grouping sets; ``g``: which set)."""
        plain = "FILTER (WHERE NOT special)"
        # a key the planner proves unique needs no (k, h) set: NULL keys still show as rb NULL
        keys = "" if self.unique else ", (k, h)"
        having = "" if self.unique else " HAVING GROUPING(k) = 1 OR count(*) > 1 OR k IS NULL"
        sql = (
            f"SELECT GROUPING(rb) * 2 + GROUPING(tb), rb, tb, {'NULL' if self.unique else 'k'}, "
            f"count(*) {plain}, sum(x) {plain}, bit_xor(x) {plain}, count(*), "
            f"{'NULL' if self.unique else 'h'} FROM (SELECT h >> %(s)s AS rb, "
            f"CASE WHEN NOT special THEN {TIME_BUCKET} END AS tb, k, x, special, h "
            f"FROM {self._from}) AS q GROUP BY GROUPING SETS ((rb), (tb){keys}){having}"
        )
        params = {**self._params, "s": shift, "b": self.rules.bucket_seconds}
        with translate_errors(self.name):
            conn = self._connection()
            conn.execute("SET work_mem = '128MB'")  # this session only: hash the keys in memory
            cur = conn.execute(sql, params)
            # one pass over the result, no list of it (a million ranges at 10M rows)
            ranges: dict[int, RangeSum] = {}
            nulls = null_range = self._special = 0
            self._timeline, self._dups = {}, []
            for g, b, t, k, n, total, xor, a, h in cur:
                if g == 1:
                    if b is None:
                        null_range += 1
                    elif n:
                        ranges[int(b)] = RangeSum(int(n), int(total) & MASK64, int(xor) & MASK64)
                    self._special += int(a) - int(n)
                elif g == 2 and t:
                    self._timeline[int(t)] = int(n)
                elif g == 3 and k is None:
                    nulls += int(a)
                elif g == 3:
                    self._dups.append(int(h))
        if nulls or null_range:
            raise SourceError(self.name, f"{nulls} row(s) have a NULL key {self.source.key!r}")
        return with_duplicates(ranges, self._dups, shift)

    def rows(self, leaves: Sequence[Range]) -> Iterator[Observation]:
        if not leaves and self._special == 0:
            return  # the first level counted no special row: nothing to read again
        by_shift: dict[int, list[int]] = {}
        for leaf in leaves:
            by_shift.setdefault(leaf.shift, []).append(leaf.index)
        params: dict[str, Any] = {**self._params, "b": self.rules.bucket_seconds}
        chosen = ["special"]
        for n, (shift, indices) in enumerate(sorted(by_shift.items())):
            chosen.append(f"(h >> %(s{n})s) IN (SELECT unnest(%(l{n})s::bigint[]))")
            params[f"s{n}"], params[f"l{n}"] = shift, indices
        sql = (
            f"SELECT k, at, d, m, i, special, {TIME_BUCKET} FROM {self._from} "
            f'WHERE {" OR ".join(chosen)} ORDER BY k COLLATE "C"'
        )
        conn = self._connection()
        with translate_errors(self.name), conn.cursor(name=f"{self.table}_rows") as cur:
            cur.itersize = self.itersize
            cur.execute(sql, params)
            for key, at, digest, mode, inconclusive, spec, bucket in cur:
                if spec:
                    self.special_keys.add(key)
                else:
                    self._returned[int(bucket)] += 1
                record = DeferredRecord(key, self._fetch)
                yield Observation(
                    key,
                    record,
                    at,
                    None if digest is None else int(digest).to_bytes(8, "big", signed=True),
                    mode,
                    flag(inconclusive),
                )

    def plain_timeline(self) -> Mapping[int, int]:
        return self._timeline

    def returned_plain(self) -> Mapping[int, int]:
        return self._returned

    def close(self) -> None:
        if self._conn is not None and not self._conn.closed:
            self._conn.close()

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None:
            raise SourceError(self.name, "range store used before prepare()")
        return self._conn

    def fetch_many(self, keys: Sequence[str]) -> dict[str, Mapping[str, Any]]:
        """Full rows of ``keys`` with one query (the first row of a key held twice)."""
        key_expr = self.source._exprs(self._cols)[0]
        sql = (
            f"SELECT {key_expr} AS cutover_key__, * FROM ({self.source._inner()}) AS src "
            f"WHERE ({key_expr}) IN (SELECT unnest(%(keys)s::text[]))"
        )
        json_mode = self._cols == [JSON_COLUMN]
        found: dict[str, Mapping[str, Any]] = {}
        with translate_errors(self.name), self._connection().cursor(row_factory=dict_row) as cur:
            for row in cur.execute(sql, {"keys": list(keys)}):
                key = row.pop("cutover_key__")
                if key not in found:
                    found[key] = json_record(row[JSON_COLUMN]) if json_mode else row
        return found

    def _fetch(self, key: str) -> Mapping[str, Any]:
        """A differing key's full row: on the store's connection while it is open."""
        conn = self._conn
        if conn is not None and not conn.closed:
            return self.source.fetch(conn, self._cols, key)
        with translate_errors(self.name), self.source._connect() as fresh:
            return self.source.fetch(fresh, self._cols, key)


def _sums(found: Iterable[Sequence[Any]]) -> dict[int, RangeSum]:
    return {
        int(b): RangeSum(int(n), int(total) & MASK64, int(xor) & MASK64)
        for b, n, total, xor in found
    }


def compare_by_ranges(
    control: SqlSource,
    candidate: SqlSource,
    window: ReadWindow,
    rules: DigestRules,
    row_rules: RowRules,
    *,
    workers: int = RANGE_WORKERS,
    plan: BisectPlan | None = None,
) -> RangeComparison:
    """Bisect ``control`` against ``candidate`` (two databases) over ``workers`` slices of the
    key hash space; the caller feeds the streams to :func:`comparators.diff.observe`, folds
    :meth:`RangeComparison.matched` in afterwards and closes the comparison."""
    slices = [
        tuple(
            PgRangeStore(src, window, row_rules, rules, Partition(w, workers))
            for src in (control, candidate)
        )
        for w in range(workers)
    ]
    pairs = [(c, d) for c, d in slices]
    if plan is None:
        plan = BisectPlan(first_bits=first_bits_for(estimated_rows(control), workers))
    log.info(
        "ranges.bisecting",
        control=control.name,
        candidate=candidate.name,
        workers=workers,
        first_bits=plan.first_bits,
    )
    return bisect_slices(pairs, plan, workers)


ROWS_PER_RANGE = 12
"""The first level's aim: about this many rows per range, so that one pass over each side
usually suffices (a range holding a differing key returns its rows, so few rows per range
return few; many ranges cost memory: the first level keeps both sides' range sums)."""
MAX_FIRST_BITS = 19
"""At most 2**19 ranges per worker slice at the first level (both sides' sums: ~250 MB);
bigger tables bisect one more level for the ranges that differ."""


def first_bits_for(rows: int | None, workers: int) -> int:
    """First-level bits for ``rows`` (the planner's estimate; unknown: the default plan's)
    split over ``workers`` slices: :data:`ROWS_PER_RANGE` rows per range, 12 to
    :data:`MAX_FIRST_BITS` bits."""
    if not rows:
        return BisectPlan().first_bits
    per_slice = max(rows / max(workers, 1) / ROWS_PER_RANGE, 1.0)
    return min(MAX_FIRST_BITS, max(12, math.ceil(math.log2(per_slice))))


def estimated_rows(source: SqlSource) -> int | None:
    """The planner's estimate of the rows of ``source``'s query (``None``: it cannot say)."""
    try:
        with source._connect() as conn:
            row = conn.execute(
                f"EXPLAIN (FORMAT JSON) SELECT * FROM ({source._inner()}) AS src"
            ).fetchone()
    except psycopg.Error:
        return None
    if row is None:
        return None
    doc = json.loads(row[0]) if isinstance(row[0], str) else row[0]
    try:
        return int(doc[0]["Plan"]["Plan Rows"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def compare_ranges(
    control: SqlSource,
    candidate: SqlSource,
    options: CompareOptions,
    scope: Scope,
    window: ReadWindow | None = None,
    *,
    rules: DigestRules | None = None,
    workers: int = RANGE_WORKERS,
    plan: BisectPlan | None = None,
    exact_late: bool = False,
) -> tuple[ComparisonResult, BisectStats]:
    """The whole comparison by range checksums: observe the returned rows, add the agreeing
    ranges' keys as matches. ``rules`` default: :func:`digest_rules`."""
    row_rules = RowRules(
        now=scope.now,
        settle=options.settle,
        since=scope.since,
        modes=scope.modes,
        bucket_seconds=options.timeline_bucket_seconds,
        exact_late=exact_late,
    )
    run = compare_by_ranges(
        control,
        candidate,
        window or ReadWindow(partition=scope.partition),
        rules or digest_rules(options),
        row_rules,
        workers=workers,
        plan=plan,
    )
    try:
        ahead = Prefetch(
            run,
            [pair for pair in run.slices],
            settle=options.settle,
            bucket_seconds=options.timeline_bucket_seconds,
        )
        acc = Accumulator(options.sample_limit, options.timeline_bucket_seconds)
        for result in observe(ahead.side(0), ahead.side(1), options, scope):
            acc.add(result)
        fold_matched(acc, run.matched())
        fold_matched(acc, ahead.folded())
        return acc.freeze(), run.stats
    finally:
        run.close()


FETCH_BATCH = 5000
"""Keys read ahead on both sides before the full rows of those that differ are fetched."""


class Prefetch:
    """Both sides' returned rows read ahead in key order, ``batch`` keys at a time: the keys
    whose digests differ, or that one side lacks or holds twice, get their full rows with one
    query per side and worker slice (instead of one query per key and side)."""

    def __init__(
        self,
        run: RangeComparison,
        slices: Sequence[tuple[Any, Any]],
        batch: int = FETCH_BATCH,
        *,
        settle: timedelta | None = None,
        bucket_seconds: int = 60,
    ) -> None:
        self.streams = (run.control, run.candidate)
        self.heads: list[Observation | None] = [None, None]
        self.queues: tuple[deque[Observation], deque[Observation]] = (deque(), deque())
        self.stores = ([c for c, _ in slices], [d for _, d in slices])
        self.batch = batch
        self.started = False
        self.settle = settle
        self.bucket_seconds = bucket_seconds
        self._folded: Counter[int] = Counter()

    def folded(self) -> MatchedTotals:
        """The keys of differing ranges that matched without the engine (see :meth:`_plain`),
        as :func:`comparators.bisect.fold_matched` counts agreeing ranges' keys."""
        return MatchedTotals(self._folded.total(), dict(sorted(self._folded.items())))

    def _plain(self, control: list[Observation], candidate: list[Observation]) -> bool:
        """Whether a key of a differing range is a plain match, decided here instead of by the
        engine (most keys of a range that differs by one key): one row a side, equal digests,
        neither row special for its store (pending, flagged, out of scope, before ``since``)
        and not late. The engine would call it ``match``; it is counted as the keys of
        agreeing ranges are (no lag)."""
        if self.settle is None or len(control) != 1 or len(candidate) != 1:
            return False
        c, d = control[0], candidate[0]
        if c.digest is None or c.digest != d.digest or d.produced_at > c.produced_at + self.settle:
            return False
        stores = (*self.stores[0], *self.stores[1])
        return not any(c.key in getattr(store, "special_keys", ()) for store in stores)

    def side(self, n: int) -> Iterator[Observation]:
        queue = self.queues[n]
        while queue or self._fill():
            if queue:
                yield queue.popleft()

    def _next(self, n: int) -> Observation | None:
        return next(self.streams[n], None)

    def _fill(self) -> bool:
        if not self.started:
            self.heads = [self._next(0), self._next(1)]
            self.started = True
        groups: list[tuple[list[Observation], list[Observation]]] = []
        while len(groups) < self.batch and (self.heads[0] or self.heads[1]):
            key = min(h.key for h in self.heads if h is not None)
            pair: tuple[list[Observation], list[Observation]] = ([], [])
            for n in (0, 1):
                while (head := self.heads[n]) is not None and head.key == key:
                    pair[n].append(head)
                    self.heads[n] = self._next(n)
            if self._plain(*pair):
                self._folded[bucket_start(pair[0][0].produced_at, self.bucket_seconds)] += 1
                continue
            groups.append(pair)
        if not groups:
            return False
        wanted = [c[0].key if c else d[0].key for c, d in groups if _needs_rows(c, d)]
        for n in (0, 1):
            rows = self._rows(n, wanted) if wanted else {}
            for group in groups:
                self.queues[n].extend(
                    replace(o, record=rows[o.key]) if o.key in rows else o for o in group[n]
                )
        return True

    def _rows(self, n: int, keys: list[str]) -> dict[str, Mapping[str, Any]]:
        found: dict[str, Mapping[str, Any]] = {}
        for store in self.stores[n]:
            found.update(store.fetch_many(keys))
        return found


def _needs_rows(control: list[Observation], candidate: list[Observation]) -> bool:
    if len(control) != 1 or len(candidate) != 1:
        return True
    return control[0].digest is None or control[0].digest != candidate[0].digest
