"""Same database, one join: control and candidate compared inside Postgres (I/O).

When both outcome sources are SQL on the same database (legacy tables and shadow tables
side by side), one query computes each side's digest (the cheapest that is never coarser
than the rules, :func:`comparators.bisect_pg.digest_rules`: the row's own text when only
top-level fields are ignored, else the record normalised in SQL by
:mod:`comparators.sqlrules`; differing digests are judged by the engine), groups each side by key (duplicates counted), joins the two
with ``FULL OUTER JOIN`` and decides in SQL what :mod:`comparators.diff` would decide for
the keys that need no looking into: ``pending`` (settle window open), ``out_of_scope``
(written in a mode the comparison does not cover), ``inconclusive`` (a side flags it) and
``match`` (one row per side, equal digests, not late, no SQL invariant violated) come back
as counts per lag and timeline bucket. Every other key (divergent digests, missing, extra,
duplicate, late, violating) comes back by key, its rows are fetched in batches, and the
engine (:func:`comparators.diff.observe`) judges and explains it exactly as on the Python
path. A key whose rows cannot be told apart by their digests is never counted a match.

Rows with a NULL key are an error (:class:`~comparators.errors.SourceError`), never a
match: a NULL joins nothing, and a text ``"None"`` would join the wrong row.
"""

from __future__ import annotations

import heapq
import itertools
import queue
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg
import structlog
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

from comparators.bisect_pg import DigestSql, PushdownDigest, digest_rules, top_level_only
from comparators.diff import Observation, Scope, observation, observe
from comparators.errors import PlanError, SourceError
from comparators.invariants import SqlInvariant, Violation
from comparators.partition import Partition
from comparators.plan import CompareConfig
from comparators.result import (
    LAG_BOUNDS,
    LEFT_OUT,
    Category,
    ComparisonResult,
    KeyResult,
    merge,
)
from comparators.rules import CompareOptions
from comparators.sources import (
    JSON_COLUMN,
    ReadWindow,
    SqlSource,
    libpq_url,
    row_expr,
    translate_errors,
)
from comparators.sqlrules import check_columns
from comparators.unique import key_proven_unique

log = structlog.get_logger(__name__)

WHOLE = Partition()
JOIN_WORKERS = 2
"""Connections a joined comparison splits the keys over (each joins its slice of both
sides in its own Postgres backend, and the engine judges one slice's undecided keys while
the other's query runs)."""

FETCH_BATCH = 10_000
"""Keys whose rows are fetched with one query per side: each query may scan the side's
whole query (a key list is one hashed scan), so few large batches beat many small ones;
10,000 rows per side stay a few tens of MB in Python."""


@dataclass(slots=True)
class RowCounter:
    """How many rows a joined run read into Python (full rows and key rows)."""

    full_rows: int = 0
    key_rows: int = 0


def _address(conninfo: str) -> tuple[str, str, str]:
    parts = conninfo_to_dict(libpq_url(conninfo))
    return (
        str(parts.get("host") or parts.get("hostaddr") or ""),
        str(parts.get("port") or "5432"),
        str(parts.get("dbname") or parts.get("user") or ""),
    )


def same_database(control: object, candidate: object) -> bool:
    """Whether both sources are SQL with pushdown on the same host, port and database."""
    if not (isinstance(control, SqlSource) and isinstance(candidate, SqlSource)):
        return False
    if not (control.pushdown and candidate.pushdown):
        return False
    try:
        return _address(control.conninfo) == _address(candidate.conninfo)
    except psycopg.ProgrammingError:
        return False


@dataclass(frozen=True, slots=True)
class _Side:
    """One side's part of the join: its CTE and how to read its rows."""

    source: SqlSource
    columns: list[str]
    rules: PushdownDigest
    alias: str
    unique: bool = False
    """The planner proves the key unique (:mod:`comparators.unique`): no ``GROUP BY``."""
    image: str | None = None
    """``ROW(...)`` of the compared columns when both sides compare by binary image."""

    @property
    def json_mode(self) -> bool:
        return self.columns == [JSON_COLUMN]

    @property
    def value(self) -> str:
        """The compared column of this side's rows: ``r`` (image) or ``d`` (digest)."""
        return "r" if self.image else "d"

    def lazy_digest(self, value: str) -> str:
        """The digest from this side's compared ``value`` (only on undecided keys)."""
        if self.image is None:
            return value
        return f"md5(({value})::text || %({self.alias}_signature)s)"


@dataclass(slots=True)
class JoinedRun:
    """A joined comparison: the keys for the engine, and the counts decided in SQL (filled
    once :attr:`keys` has started)."""

    keys: Iterator[KeyResult]
    decided: ComparisonResult = field(default_factory=ComparisonResult)
    unsupported: tuple[str, ...] = ()
    rows: RowCounter = field(default_factory=RowCounter)
    plan: dict[str, Any] = field(default_factory=dict)
    """How the join read each side: ``key_unique`` per side (proven by the planner, else
    grouped by key), ``compared_by`` (``image`` or ``digest``) and ``workers``."""


def _key_and_at(source: SqlSource, columns: Sequence[str]) -> tuple[str, str]:
    return source._exprs(columns)


def _side_where(
    side: _Side, window: ReadWindow, worker: Partition, params: dict[str, Any]
) -> list[str]:
    """The side's filters: the window's partition and ``since``, and the join worker's slice
    of the keys (``hashtext``: far cheaper than the partition's md5; NULL keys go to worker
    0, which refuses them)."""
    key_expr, at_expr = _key_and_at(side.source, side.columns)
    where = [window.partition.sql_predicate(key_expr)]
    if window.since is not None:
        where.append(f"{at_expr} > %(since)s")
        params["since"] = window.since
    if not worker.is_whole:
        h = f"(hashtext(({key_expr})::text)::bigint & 4294967295)"
        mine = f"(({h} * {worker.count}) >> 32) = {worker.index}"
        where.append(f"({mine} OR ({key_expr}) IS NULL)" if worker.index == 0 else mine)
    return where


def _side_sql(
    side: _Side,
    window: ReadWindow,
    invariants: Sequence[SqlInvariant],
    params: dict[str, Any],
    worker: Partition,
) -> str:
    """One side's rows for the join, one per key: as they are when the key is proven unique
    (its binary image ``r`` or its digest ``d``), else grouped by key (``n`` counts the
    rows, so a key held twice is a duplicate)."""
    src = side.source
    key_expr, at_expr = _key_and_at(src, side.columns)
    where = " AND ".join(_side_where(side, window, worker, params))
    mode = src._text_expr(side.columns, src.mode_column, f"{side.alias}_mode")
    params[f"{side.alias}_mode"] = src.mode_column
    flag = src._text_expr(side.columns, src.inconclusive_column, f"{side.alias}_flag")
    params[f"{side.alias}_flag"] = src.inconclusive_column
    params.update(side.rules.params)
    truthy = f"lower(trim(coalesce({flag}, ''))) IN ('true','t','1','yes','y','on')"
    digest = f'({side.rules.digest}) COLLATE "C"'
    if side.unique:
        value = f"{side.image} AS r" if side.image else f"{digest} AS d"
        cols = f'1 AS n, {at_expr} AS at, {value}, ({mode}) COLLATE "C" AS m, {truthy} AS i'
        checks = [f", (({inv.sql}) IS NOT TRUE)::int AS v{n}" for n, inv in enumerate(invariants)]
        group = ""
    else:
        cols = (
            f"count(*) AS n, min({at_expr}) AS at, min({digest}) AS d, "
            f'min(({mode}) COLLATE "C") AS m, bool_or({truthy}) AS i'
        )
        checks = [
            f", count(*) FILTER (WHERE ({inv.sql}) IS NOT TRUE) AS v{n}"
            for n, inv in enumerate(invariants)
        ]
        group = " GROUP BY 1"
    return (
        f'SELECT ({key_expr}) COLLATE "C" AS k, {cols}{"".join(checks)} '
        f"FROM ({src._inner()}) AS src WHERE {where}{group}"
    )


def _lag_bucket_sql(lag: str) -> str:
    whens = " ".join(f"WHEN {lag} <= {b} THEN {i}" for i, b in enumerate(LAG_BOUNDS))
    return f"CASE {whens} ELSE {len(LAG_BOUNDS)} END"


def join_query(
    control: _Side,
    candidate: _Side,
    window: ReadWindow,
    *,
    options: CompareOptions,
    scope: Scope,
    invariants: Sequence[SqlInvariant],
    worker: Partition = WHOLE,
) -> tuple[str, dict[str, Any]]:
    """The one query, one pass over the join: counts of the keys decided in SQL (``kind``
    0, per category, lag and timeline bucket), then the other keys in key order (``kind``
    1), then the rows with a NULL key (``kind`` 2, one row). A side whose key is proven
    unique is read as it is, else grouped by key (duplicates counted); two unique sides
    with the same compared columns compare by binary image (``*=``: equal images have equal
    text, so it is never coarser than the digest), else by digest."""
    params: dict[str, Any] = {
        "settle": options.settle,
        "now": scope.now,
        "bucket": options.timeline_bucket_seconds,
    }
    sides = [_side_sql(side, window, invariants, params, worker) for side in (control, candidate)]
    nv = range(len(invariants))
    judged_at = "coalesce(c.at, d.at)"
    keep = [scope.partition.sql_predicate("coalesce(c.k, d.k)")]
    if scope.since is not None:
        params["scope_since"] = scope.since
        params["revisit"] = sorted(scope.revisit)
        keep.append(
            f"({judged_at} > %(scope_since)s OR coalesce(c.k, d.k) = ANY(%(revisit)s::text[]))"
        )
    out_of_scope = "FALSE"
    if scope.modes is not None:
        params["modes"] = sorted(scope.modes)
        out_of_scope = "coalesce(c.m, d.m) <> ALL(%(modes)s::text[])"
    clean = "".join(f" AND c.v{n} = 0 AND d.v{n} = 0" for n in nv)
    equal = "c.r *= d.r" if control.image and candidate.image else "c.d = d.d"
    match = f"c.n = 1 AND d.n = 1 AND {equal} AND d.at <= c.at + %(settle)s{clean}"
    decided = (
        f"CASE WHEN {judged_at} + %(settle)s > %(now)s THEN 'pending' "
        f"WHEN {out_of_scope} THEN 'out_of_scope' "
        "WHEN coalesce(c.i, false) OR coalesce(d.i, false) THEN 'inconclusive' "
        f"WHEN {match} THEN 'match' END"
    )
    lag = "extract(epoch FROM (d.at - c.at))"
    bucket = f"floor(extract(epoch FROM {judged_at}) / %(bucket)s)::bigint * %(bucket)s"
    j_viol = "".join(f", c.v{n} AS cv{n}, d.v{n} AS dv{n}" for n in nv)
    sum_viol = "".join(f", sum(cv{n})::bigint AS cv{n}, sum(dv{n})::bigint AS dv{n}" for n in nv)
    j = (
        "SELECT coalesce(c.k, d.k) AS k, c.n AS cn, d.n AS dn, "
        f"{decided} AS cat, {_lag_bucket_sql(lag)} AS lb, {bucket} AS tb, "
        f"c.{control.value} AS cv_, d.{candidate.value} AS dv_, "
        f"({' AND '.join(keep)}) AS keep{j_viol} "
        f"FROM ({sides[0]}) AS c FULL OUTER JOIN ({sides[1]}) AS d ON c.k = d.k OFFSET 0"
    )
    # j is computed once per row (OFFSET 0); the digests only on the undecided keys
    u = (
        "SELECT kind, CASE WHEN kind = 0 THEN cat END AS cat, "
        "CASE WHEN kind = 0 THEN lb END AS lb, CASE WHEN kind = 0 THEN tb END AS tb, "
        "CASE WHEN kind = 1 THEN k END AS k, cn, dn, "
        f"CASE WHEN kind = 1 THEN {control.lazy_digest('cv_')} END AS cd, "
        f"CASE WHEN kind = 1 THEN {candidate.lazy_digest('dv_')} END AS dd"
        + "".join(f", cv{n}, dv{n}" for n in nv)
        + " FROM (SELECT CASE WHEN k IS NULL THEN 2 WHEN cat IS NULL THEN 1 ELSE 0 END "
        f"AS kind, * FROM ({j}) AS j WHERE k IS NULL OR keep) AS j"
    )
    sql = (
        "SELECT kind, cat, lb, tb, count(*) AS n, k, sum(cn)::bigint AS cn, "
        f"sum(dn)::bigint AS dn, min(cd) AS cd, min(dd) AS dd{sum_viol} FROM ({u}) AS u "
        'GROUP BY kind, cat, lb, tb, k ORDER BY kind, k COLLATE "C"'
    )
    return sql, params


def prefixed(rules: DigestSql, prefix: str) -> PushdownDigest:
    """``rules``' digest with its parameters renamed ``<prefix><name>`` (two sides in one
    query)."""
    digest = rules.digest
    for name in rules.params:
        digest = digest.replace(f"%({name})s", f"%({prefix}{name})s")
    params = {f"{prefix}{k}": v for k, v in rules.params.items()}
    return PushdownDigest(digest, params)


def _decided(rows: Sequence[Mapping[str, Any]], options: CompareOptions) -> ComparisonResult:
    counts: Counter[str] = Counter()
    lags = [0] * (len(LAG_BOUNDS) + 1)
    timeline: dict[int, list[int]] = {}
    for row in rows:
        n = int(row["n"])
        counts[row["cat"]] += n
        if row["cat"] != Category.MATCH.value:
            continue
        lags[int(row["lb"])] += n
        slot = timeline.setdefault(int(row["tb"]), [0, 0])
        slot[0] += n
        slot[1] += n
    return ComparisonResult(
        counts=tuple(sorted(counts.items())),
        lag_histogram=tuple(lags),
        timeline=tuple((k, s, m) for k, (s, m) in sorted(timeline.items())),
        sample_limit=options.sample_limit,
        bucket_seconds=options.timeline_bucket_seconds,
    )


def joined_compare(
    control: SqlSource,
    candidate: SqlSource,
    window: ReadWindow,
    *,
    options: CompareOptions,
    scope: Scope,
    invariants: Sequence[SqlInvariant] = (),
    workers: int = JOIN_WORKERS,
) -> JoinedRun:
    """Compare two SQL sources of one database with one join (see the module docstring),
    the keys split over ``workers`` connections (:data:`JOIN_WORKERS`).

    The returned :attr:`JoinedRun.keys` yields the engine's verdict on every key SQL left
    undecided; :attr:`JoinedRun.decided` holds the keys decided in SQL once iteration began.
    """
    run = JoinedRun(keys=iter(()))
    run.unsupported = tuple(n.name for n in options.normalisers)
    subs = [JoinedRun(keys=iter(())) for _ in range(max(workers, 1))]
    streams = [
        _pair_stream(
            sub,
            (control, candidate),
            window,
            options=options,
            scope=scope,
            invariants=tuple(invariants),
            worker=Partition(n, len(subs)),
        )
        for n, sub in enumerate(subs)
    ]
    run.keys = _merged(
        run, subs, streams, options=options, scope=scope, invariants=tuple(invariants)
    )
    return run


def _merged(
    run: JoinedRun,
    subs: Sequence[JoinedRun],
    streams: Sequence[Iterator[Pair]],
    *,
    options: CompareOptions,
    scope: Scope,
    invariants: tuple[SqlInvariant, ...],
) -> Iterator[KeyResult]:
    """One engine judges the workers' pairs merged in key order (the Python path's order:
    the same samples and explanations); each worker runs in its own thread and connection.
    ``run`` gets the sum of the workers' decided counts and rows once all are done."""
    stop = threading.Event()
    threads: list[threading.Thread] = []
    if len(streams) == 1:
        pairs: Iterator[Pair] = streams[0]
    else:
        feeds = [_threaded(stream, stop, threads, n) for n, stream in enumerate(streams)]
        pairs = heapq.merge(*feeds, key=_pair_key)
    try:
        yield from _judged(pairs, options, scope, invariants)
        run.decided = merge([sub.decided for sub in subs])
        run.plan = {**subs[0].plan, "workers": len(subs)}
        run.rows = RowCounter(
            sum(s.rows.full_rows for s in subs), sum(s.rows.key_rows for s in subs)
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def _pair_key(pair: Pair) -> str:
    return str(pair[2]["k"])


_BATCH = 1000
_Item = list["Pair"] | BaseException | None


def _threaded(
    stream: Iterator[Pair], stop: threading.Event, threads: list[threading.Thread], n: int
) -> Iterator[Pair]:
    """``stream`` read ahead by a thread of its own (its queries run while the engine judges
    the other workers' keys); an error in it is raised here."""
    out: queue.Queue[_Item] = queue.Queue(maxsize=4)

    def put(item: _Item) -> None:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def work() -> None:
        try:
            batch: list[Pair] = []
            for pair in stream:
                batch.append(pair)
                if len(batch) >= _BATCH:
                    put(batch)
                    batch = []
                if stop.is_set():
                    return
            put(batch)
            put(None)
        except BaseException as exc:  # handed to the judging thread, raised there
            put(exc)
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=work, name=f"cutover-join-{n}", daemon=True)
    threads.append(thread)
    thread.start()  # now, not on the first next(): every worker's query runs at once
    return _drain(out)


def _drain(out: queue.Queue[_Item]) -> Iterator[Pair]:
    while True:
        item = out.get()
        if item is None:
            return
        if isinstance(item, BaseException):
            raise item
        yield from item


def _sides(
    conn: psycopg.Connection[Any],
    control: SqlSource,
    candidate: SqlSource,
    options: CompareOptions,
    worker: Partition = WHOLE,
) -> tuple[_Side, _Side]:
    out = []
    described = {}
    for alias, source in (("c", control), ("d", candidate)):
        with translate_errors(source.name):
            described[alias] = source.describe(conn)
    check_columns(options, *([n for n, _ in d] for d in described.values()))
    digest = digest_rules(options)
    unique = {
        a: key_proven_unique(conn, s, described[a]) for a, s in (("c", control), ("d", candidate))
    }
    image = _image(control, candidate, described, options) if all(unique.values()) else None
    for alias, source in (("c", control), ("d", candidate)):
        cols = [n for n, _ in described[alias]]
        rules = digest(source, described[alias])
        side = _Side(source, cols, prefixed(rules, f"{alias}_"), alias, unique[alias], image)
        out.append(side)
    if worker.index == 0:
        log.info(
            "compare.joined",
            control=control.name,
            candidate=candidate.name,
            workers=worker.count,
            unique_control=unique["c"],
            unique_candidate=unique["d"],
            by=("image" if image else "digest"),
        )
    return out[0], out[1]


def _image(
    control: SqlSource,
    candidate: SqlSource,
    described: Mapping[str, Sequence[tuple[str, int]]],
    options: CompareOptions,
) -> str | None:
    """``ROW(...)`` of the compared columns when both sides compare by binary image: only
    top-level fields ignored, the same compared column names and types on both sides."""
    if not top_level_only(options):
        return None
    kept = control.compared(described["c"], options.ignore)
    if kept != candidate.compared(described["d"], options.ignore):
        return None
    if [n for n, _ in described["c"]] == [JSON_COLUMN]:
        return None
    return row_expr(kept)


def _pair_stream(
    run: JoinedRun,
    sources: tuple[SqlSource, SqlSource],
    window: ReadWindow,
    *,
    options: CompareOptions,
    scope: Scope,
    invariants: tuple[SqlInvariant, ...],
    worker: Partition = WHOLE,
) -> Iterator[Pair]:
    """One worker's keys that SQL leaves undecided, with their rows (key order); ``run``
    gets the worker's decided counts once the first undecided key arrives."""
    control, candidate = sources
    with control._connect() as conn:
        conn.execute("SET jit = off")  # compiling the rules' large expressions costs seconds
        conn.execute("SET cursor_tuple_fraction = 1")  # the join is read whole: plan for it
        conn.execute("SET work_mem = '256MB'")  # group and join by key in memory, not on disk
        # a worker's slice (a hash predicate) is estimated at 0.5 % of the rows, which
        # would sort every joined row to group a handful of counts: hash them instead
        conn.execute("SET enable_sort = off")
        c_side, d_side = _sides(conn, control, candidate, options, worker)
        run.plan = {
            "key_unique": {"control": c_side.unique, "candidate": d_side.unique},
            "compared_by": "image" if c_side.image else "digest",
        }
        sql, params = join_query(
            c_side,
            d_side,
            window,
            options=options,
            scope=scope,
            invariants=invariants,
            worker=worker,
        )
        log.debug(
            "compare.joined", control=control.name, candidate=candidate.name, worker=str(worker)
        )
        with translate_errors(f"{control.name}+{candidate.name}"):
            pending = _stream(conn, (sql, params), control.itersize, run, options)
            yield from _pairs(conn, pending, (c_side, d_side), window, run.rows)


def _stream(
    conn: psycopg.Connection[Any],
    query: tuple[str, dict[str, Any]],
    itersize: int,
    run: JoinedRun,
    options: CompareOptions,
) -> Iterator[dict[str, Any]]:
    name = f"cutover_join_{id(run):x}"
    with conn.cursor(name=name, row_factory=dict_row) as cur:
        cur.itersize = itersize
        cur.execute(*query)
        decided: list[dict[str, Any]] = []
        started = False
        for row in cur:
            if row["kind"] == 0:
                decided.append(row)
                continue
            if not started:
                run.decided, started = _decided(decided, options), True
            if row["kind"] == 2:
                raise _null_keys(row)
            run.rows.key_rows += 1
            yield row
        if not started:
            run.decided = _decided(decided, options)


def _null_keys(row: Mapping[str, Any]) -> SourceError:
    sides = [
        f"{n} on the {s} side" for s, n in (("control", row["cn"]), ("candidate", row["dn"])) if n
    ]
    return SourceError(
        "outcome query", f"rows with a NULL key ({', '.join(sides)}): a key must not be NULL"
    )


def _batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    while batch := list(itertools.islice(rows, FETCH_BATCH)):
        yield batch


def _fetch(
    conn: psycopg.Connection[Any], side: _Side, window: ReadWindow, keys: list[str]
) -> dict[str, list[Mapping[str, Any]]]:
    key_expr, at_expr = _key_and_at(side.source, side.columns)
    params: dict[str, Any] = {"keys": keys}
    where = [f"({key_expr}) = ANY(%(keys)s::text[])"]
    if window.since is not None:
        where.append(f"{at_expr} > %(since)s")
        params["since"] = window.since
    sql = (
        f"SELECT {key_expr} AS cutover_key__, * FROM ({side.source._inner()}) AS src "
        f"WHERE {' AND '.join(where)}"
    )
    out: dict[str, list[Mapping[str, Any]]] = {}
    with translate_errors(side.source.name), conn.cursor(row_factory=dict_row) as cur:
        for row in cur.execute(sql, params):
            key = row.pop("cutover_key__")
            record = _json(row[JSON_COLUMN]) if side.json_mode else row
            out.setdefault(key, []).append(record)
    return out


def _json(value: Any) -> Mapping[str, Any]:
    from comparators.sources import _json_record

    return _json_record(value)


Pair = tuple[list[Observation], list[Observation], Mapping[str, Any]]


def _pairs(
    conn: psycopg.Connection[Any],
    rows: Iterator[dict[str, Any]],
    sides: tuple[_Side, _Side],
    window: ReadWindow,
    counter: RowCounter,
) -> Iterator[Pair]:
    c_side, d_side = sides
    for batch in _batches(rows):
        keys = [r["k"] for r in batch]
        c_rows = _fetch(conn, c_side, window, [r["k"] for r in batch if r["cn"]])
        d_rows = _fetch(conn, d_side, window, [r["k"] for r in batch if r["dn"]])
        counter.full_rows += sum(map(len, c_rows.values())) + sum(map(len, d_rows.values()))
        for row, key in zip(batch, keys, strict=True):
            controls = _observations(c_side, key, c_rows.get(key, []))
            candidates = _observations(d_side, key, d_rows.get(key, []))
            if row["cn"] == 1 and row["dn"] == 1 and controls and candidates:
                controls = [replace(controls[0], digest=bytes.fromhex(row["cd"]))]
                candidates = [replace(candidates[0], digest=bytes.fromhex(row["dd"]))]
            yield controls, candidates, row


def _observations(side: _Side, key: str, records: list[Mapping[str, Any]]) -> list[Observation]:
    src = side.source
    return [
        replace(
            observation(r, src.key, src.name, src.mode_column, src.inconclusive_column), key=key
        )
        for r in records
    ]


def _judged(
    pairs: Iterator[Pair],
    options: CompareOptions,
    scope: Scope,
    invariants: tuple[SqlInvariant, ...],
) -> Iterator[KeyResult]:
    flagged: dict[str, Mapping[str, Any]] = {}

    def remember(items: Iterator[Pair]) -> Iterator[tuple[list[Observation], list[Observation]]]:
        for controls, candidates, row in items:
            if invariants:
                flagged[row["k"]] = row
            yield controls, candidates

    left, right = itertools.tee(remember(pairs))
    results = observe(
        (o for c, _ in left for o in c), (o for _, d in right for o in d), options, scope
    )
    for result in results:
        row = flagged.pop(result.key, None)
        if row is not None and result.category not in LEFT_OUT:
            yield replace(result, violations=_violations(row, invariants))
        else:
            yield result


def _violations(
    row: Mapping[str, Any], invariants: Sequence[SqlInvariant]
) -> tuple[Violation, ...]:
    found = []
    for n, inv in enumerate(invariants):
        for side, column in (("control", f"cv{n}"), ("candidate", f"dv{n}")):
            count = row.get(column) or 0
            if count:
                reason = f"{count} row(s) where ({inv.sql}) is not true"
                found.append(Violation(inv.name, side, str(row["k"]), reason))
    return tuple(found)


def choose_join(
    config: CompareConfig, window: ReadWindow, scope: Scope, python_invariants: bool
) -> JoinedRun | None:
    """The one-join run of ``config`` when both sources are SQL on one database and no
    invariant is a Python function; ``None``: the streaming path compares. SQL invariants
    need the join (:class:`PlanError` otherwise)."""
    control, candidate = config.control, config.candidate
    joinable = (
        config.same_database is not False
        and not python_invariants
        and isinstance(control, SqlSource)
        and isinstance(candidate, SqlSource)
        and (config.same_database or same_database(control, candidate))
    )
    if joinable:
        assert isinstance(control, SqlSource) and isinstance(candidate, SqlSource)
        return joined_compare(
            control,
            candidate,
            window,
            options=config.options,
            scope=scope,
            invariants=config.sql_invariants,
        )
    if config.sql_invariants:
        raise PlanError(
            config.context,
            "invariants given as SQL run in the one-join comparison: both outcome queries "
            "must be SQL on the same database, with no invariant given as a Python function",
        )
    return None


def by_ranges(config: CompareConfig, python_invariants: bool) -> bool:
    """Whether a comparison the join does not take goes by range checksums with bisection
    (:mod:`comparators.bisect_pg`): both sources SQL with pushdown (on two databases), no
    invariant given as a Python function (it needs every row)."""
    control, candidate = config.control, config.candidate
    return (
        not python_invariants
        and isinstance(control, SqlSource)
        and isinstance(candidate, SqlSource)
        and control.pushdown
        and candidate.pushdown
    )


def compare_by_ranges(config: CompareConfig, window: ReadWindow, scope: Scope) -> ComparisonResult:
    """The comparison of two SQL sources on different databases by range checksums."""
    from comparators.bisect_pg import compare_ranges

    control, candidate = config.control, config.candidate
    assert isinstance(control, SqlSource) and isinstance(candidate, SqlSource)
    result, stats = compare_ranges(control, candidate, config.options, scope, window)
    log.info("compare.ranges", control=control.name, candidate=candidate.name, stats=str(stats))
    return result


def comparison_section(
    config: CompareConfig, joined: JoinedRun | None, *, ranged: bool = False
) -> dict[str, Any]:
    """The evidence's view of how the run compared: ``joined`` (one query in Postgres),
    ``ranges`` (range checksums across two databases) or ``streamed``, the rows read into
    Python, and the rules without a SQL form."""
    unsupported = [n.name for n in config.options.normalisers]
    if ranged:
        return {"path": "ranges", "rules_without_sql": unsupported}
    if joined is None:
        return {"path": "streamed", "rules_without_sql": []}
    return {
        "path": "joined",
        "full_rows_fetched": joined.rows.full_rows,
        "keys_returned": joined.rows.key_rows,
        "rules_without_sql": list(joined.unsupported),
        "sql_invariants": [i.name for i in config.sql_invariants],
        **joined.plan,
    }
