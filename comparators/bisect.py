"""Range checksums with bisection (pure): compare two sides that live in different databases.

Each side computes, once and in its own database, one row per key: the key, a 32-bit hash
of the key, the normalised record's digest and a 64-bit *row hash* of (key, digest, mode,
settle-grid slot of ``produced_at``). Key ranges are aggregated there (count, sum of row
hashes mod 2**64, xor of row hashes: an order-independent checksum); Python compares the
aggregates of the two sides and bisects only the ranges that differ, until they hold at most
``leaf_rows`` rows; those rows (key, digest, ``produced_at``, mode, inconclusive) come back
to Python in key order, with full records fetched later only for keys whose digests differ
(as with digest pushdown). Everything in a range whose aggregates agree is a ``match``.

Ranges are intervals of the **key hash** (the first 32 bits of the key's MD5, as
:mod:`comparators.partition` uses), not of the key text: text keys sort by collation,
their distribution is unknown and has no midpoint, while hash ranges split evenly at any
depth, need no index or collation, are the same in Python and Postgres, and nest inside a
:class:`~comparators.partition.Partition` (``workers`` take one such slice each). A range is
``(shift, index)``: the keys whose hash ``h`` has ``h >> shift == index``.

Keeping the engine's categories right without judging matched keys one by one:

* rows the engine would not call ``match`` from one side's own view are **special**: never
  aggregated, always returned to Python (control time plus settle window after ``now``:
  pending; ``produced_at`` at or before the scope's ``since``; a mode outside the scope's
  modes: out of scope; the inconclusive flag set); a range holding a key twice on one side
  always differs (the first level finds such keys in the same scan), so duplicates reach
  the engine;
* ``late`` (candidate later than control plus the settle window) needs both sides' times
  of one key, which no range aggregate has. By default the keys of agreeing ranges count
  as ``match`` (a late key is a match whose timing alone is reported: the result's
  ``matched`` is exact) and :attr:`MatchedTotals.matched` says how many keys had no
  timing measured. With :attr:`RowRules.exact_late` the row hash includes
  ``floor(produced_at / settle)``: a range agrees only when every key has both times in
  the same settle-long slot, less than ``settle`` apart, so never late; keys straddling a
  slot boundary make their range differ and are judged one by one — exact, at the price
  of about mean lag / settle of the keys (7 % with a 350 ms lag and a 5 s window) making
  their ranges differ;
* the matched keys are counted per timeline bucket of the control's time
  (:class:`MatchedTotals`, folded into the result by :func:`fold_matched`). The settle-lag
  histogram counts only the keys judged one by one: a matched range gives no per-key lags.

The database side is a port (:class:`RangeStore`): :class:`comparators.bisect_pg.PgRangeStore`
over a :class:`~comparators.sources.SqlSource`, and :class:`InMemoryRangeStore` for tests.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol, cast

from comparators.diff import Observation
from comparators.errors import SourceError
from comparators.partition import key_hash
from comparators.result import Accumulator, Category, bucket_start

HASH_BITS = 32
"""Width of the key hash ranges are cut from."""
MASK64 = (1 << 64) - 1
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Range:
    """The keys whose 32-bit key hash ``h`` has ``h >> shift == index``."""

    shift: int
    index: int

    def contains(self, h: int) -> bool:
        return h >> self.shift == self.index


@dataclass(frozen=True, slots=True)
class RangeSum:
    """One side's checksum of a range: count, sum and xor of its plain rows' hashes (mod
    2**64), and how many keys of the range the side holds more than once (a range with any
    always differs: the engine judges its keys, and reports the duplicates)."""

    count: int
    total: int
    xor: int
    duplicates: int = 0


EMPTY = RangeSum(0, 0, 0)


@dataclass(frozen=True, slots=True)
class BisectPlan:
    """How ranges are cut: ``first_bits`` bits at the first level (2**first_bits ranges per
    worker slice), ``step_bits`` more per level (each differing range splits into
    2**step_bits), down to ranges of at most ``leaf_rows`` rows (on either side)."""

    first_bits: int = 17
    step_bits: int = 4
    leaf_rows: int = 64

    def __post_init__(self) -> None:
        if not (0 < self.first_bits <= HASH_BITS and self.step_bits > 0 and self.leaf_rows > 0):
            raise ValueError(f"bad bisection plan {self}")


@dataclass(frozen=True, slots=True)
class RowRules:
    """What makes a row special (returned to Python, never aggregated) and the settle grid.

    ``now`` and ``settle``: a row whose time plus ``settle`` is after ``now`` is pending;
    ``since``: rows at or before it are judged only by the engine (revisits); ``modes``: the
    scope's write-time modes (``None``: all); ``bucket_seconds``: the result's timeline;
    ``exact_late``: put the settle-grid slot into the row hash (see the module docstring).
    """

    now: datetime
    settle: timedelta
    since: datetime | None = None
    modes: frozenset[str] | None = None
    bucket_seconds: int = 60
    exact_late: bool = False

    def grid(self, at: datetime) -> int:
        """The settle-long slot ``at`` falls in (microseconds when the window is zero); 0
        unless ``exact_late``."""
        if not self.exact_late:
            return 0
        micros = (at - EPOCH) // MICROSECOND
        step = self.settle // MICROSECOND
        return micros // step if step > 0 else micros


@dataclass(frozen=True, slots=True)
class MatchedTotals:
    """Keys in ranges whose checksums agree: all ``match``, counted per timeline bucket."""

    matched: int = 0
    timeline: Mapping[int, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BisectStats:
    """What a run did: levels walked, ranges compared, leaves fetched, rows returned per side."""

    levels: int = 0
    ranges_compared: int = 0
    leaves: int = 0
    control_rows: int = 0
    candidate_rows: int = 0


class RangeStore(Protocol):
    """A port: one side's (key, digest) rows of one worker slice, held in its database.

    ``prepare`` readies the rows (reads them once, or only builds their query); ``sums``
    aggregates the ranges at ``shift`` under the ``parents`` at ``parent_shift``, leaving
    special rows out (the first level also finds NULL keys: :class:`SourceError`); ``rows``
    yields, in key order, every special row and every row of the ``leaves``;
    ``plain_timeline`` counts the non-special rows per timeline bucket (known once the
    first level was aggregated);
    ``returned_plain`` counts the non-special rows ``rows`` yielded, per bucket.
    """

    @property
    def name(self) -> str: ...

    def prepare(self) -> None: ...

    def sums(
        self, shift: int, parent_shift: int, parents: Sequence[int]
    ) -> Mapping[int, RangeSum]: ...

    def rows(self, leaves: Sequence[Range]) -> Iterator[Observation]: ...

    def plain_timeline(self) -> Mapping[int, int]: ...

    def returned_plain(self) -> Mapping[int, int]: ...

    def close(self) -> None: ...


def differing_leaves(
    control: RangeStore, candidate: RangeStore, plan: BisectPlan
) -> tuple[list[Range], BisectStats]:
    """Bisect from ``plan.first_bits`` down: the ranges whose checksums differ and that are
    small enough to fetch (or cannot be split further)."""
    shift = HASH_BITS - plan.first_bits
    parent_shift, parents = HASH_BITS, [0]
    leaves: list[Range] = []
    levels = compared = 0
    while parents:
        with ThreadPoolExecutor(max_workers=2) as pool:  # both databases at once
            futures = [
                pool.submit(s.sums, shift, parent_shift, parents) for s in (control, candidate)
            ]
            ours, theirs = (f.result() for f in futures)
        levels += 1
        split: list[int] = []
        for index in sorted(ours.keys() | theirs.keys()):
            compared += 1
            a, b = ours.get(index, EMPTY), theirs.get(index, EMPTY)
            if a == b and not a.duplicates:
                continue
            rows = max(a.count, b.count)
            if shift == 0 or rows <= plan.leaf_rows:
                leaves.append(Range(shift, index))
            else:
                split.append(index)
        parent_shift, parents = shift, split
        shift = max(0, shift - plan.step_bits)
    return leaves, BisectStats(levels=levels, ranges_compared=compared, leaves=len(leaves))


def by_key(streams: Iterable[Iterator[Observation]]) -> Iterator[Observation]:
    """Merge key-sorted streams of disjoint key slices into one key-sorted stream."""
    return heapq.merge(*streams, key=lambda o: o.key)


@dataclass
class RangeComparison:
    """Both sides' returned rows as key-sorted observation streams (special rows and the rows
    of differing ranges: feed them to :func:`comparators.diff.observe`), and, once both are
    exhausted, the keys of agreeing ranges (:meth:`matched`)."""

    control: Iterator[Observation]
    candidate: Iterator[Observation]
    bisected: BisectStats
    slices: Sequence[tuple[RangeStore, RangeStore]]
    returned: Counter[str] = field(default_factory=Counter)

    @property
    def stats(self) -> BisectStats:
        """The bisection's figures with the rows returned so far per side."""
        return replace(
            self.bisected,
            control_rows=self.returned["control"],
            candidate_rows=self.returned["candidate"],
        )

    def matched(self) -> MatchedTotals:
        return matched_totals([c for c, _ in self.slices])

    def close(self) -> None:
        for pair in self.slices:
            for store in pair:
                store.close()


def bisect_slices(
    slices: Sequence[tuple[RangeStore, RangeStore]], plan: BisectPlan, workers: int = 2
) -> RangeComparison:
    """Prepare every (control, candidate) slice and bisect them, ``workers`` at a time; the
    returned streams read each slice's rows in key order and merge them."""
    stores = [store for pair in slices for store in pair]
    with ThreadPoolExecutor(max_workers=max(1, 2 * workers)) as pool:
        list(pool.map(lambda s: s.prepare(), stores))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        found = list(pool.map(lambda pair: differing_leaves(pair[0], pair[1], plan), slices))
    counts = Counter[str]()
    rows = _primed(
        [
            store.rows(leaves)
            for pair, (leaves, _) in zip(slices, found, strict=True)
            for store in pair
        ]
    )
    stats = BisectStats(
        levels=max((s.levels for _, s in found), default=0),
        ranges_compared=sum(s.ranges_compared for _, s in found),
        leaves=sum(s.leaves for _, s in found),
    )
    control = by_key(_counted(r, counts, "control") for r in rows[0::2])
    candidate = by_key(_counted(r, counts, "candidate") for r in rows[1::2])
    return RangeComparison(control, candidate, stats, slices, counts)


def _primed(streams: Sequence[Iterator[Observation]]) -> list[Iterator[Observation]]:
    """``streams`` with their first item read at once, each in its own thread: a store's
    first row is its whole query's work (scan and sort), so every store's query runs
    concurrently instead of one after another as a merge pulls them."""
    end = object()

    def first(stream: Iterator[Observation]) -> object:
        return next(stream, end)

    with ThreadPoolExecutor(max_workers=max(1, len(streams))) as pool:
        heads = list(pool.map(first, streams))
    return [
        iter(()) if head is end else itertools.chain([cast(Observation, head)], stream)
        for head, stream in zip(heads, streams, strict=True)
    ]


def _counted(
    items: Iterator[Observation], counts: Counter[str], side: str
) -> Iterator[Observation]:
    for obs in items:
        counts[side] += 1
        yield obs


def matched_totals(controls: Sequence[RangeStore]) -> MatchedTotals:
    """The control side's non-special rows that ``rows`` did not return: keys of agreeing
    ranges (call once every stream is exhausted)."""
    left: Counter[int] = Counter()
    for store in controls:
        left.update(store.plain_timeline())
        left.subtract(store.returned_plain())
    timeline = {start: n for start, n in sorted(left.items()) if n}
    return MatchedTotals(sum(timeline.values()), timeline)


def fold_matched(acc: Accumulator, totals: MatchedTotals) -> None:
    """Add the matched ranges' keys to ``acc`` as ``match`` (count and timeline) — what
    :meth:`Accumulator.add` would have done key by key, minus the lag histogram."""
    if totals.matched:
        acc.counts[Category.MATCH.value] += totals.matched
    for start, n in totals.timeline.items():
        slot = acc.timeline.setdefault(start, [0, 0])
        slot[0] += n
        slot[1] += n


def row_hash(h: int, digest: bytes, mode: str | None, grid: int) -> int:
    """The 64-bit row hash the stores aggregate, from the key hash ``h``: the digest's first
    64 bits xor ``h << 31`` xor the mode's md5 prefix (32 bits; none: 0) xor the settle-grid
    slot. Unsigned here, signed in Postgres; sums are taken mod 2**64 so both agree."""
    mixed = int.from_bytes(digest[:8].ljust(8, b"\0"), "big") ^ (h << 31) ^ (grid & MASK64)
    if mode is not None:
        mixed ^= int(hashlib.md5(mode.encode(), usedforsecurity=False).hexdigest()[:8], 16)
    return mixed


def with_duplicates(
    sums: Mapping[int, RangeSum], duplicated: Sequence[int], shift: int
) -> dict[int, RangeSum]:
    """``sums`` with each range's count of ``duplicated`` key hashes."""
    per_range = Counter(h >> shift for h in duplicated)
    return {
        index: replace(found, duplicates=per_range[index]) if per_range[index] else found
        for index, found in sums.items()
    }


def fold_sum(rows: Iterable[int]) -> RangeSum:
    count = total = xor = 0
    for h in rows:
        count += 1
        total = (total + h) & MASK64
        xor ^= h
    return RangeSum(count, total, xor)


def special(obs: Observation, rules: RowRules) -> bool:
    """Whether the engine might call the row's key anything but ``match`` from this side's
    view alone (see the module docstring)."""
    return (
        obs.inconclusive
        or obs.produced_at + rules.settle > rules.now
        or (rules.since is not None and obs.produced_at <= rules.since)
        or (obs.mode is not None and rules.modes is not None and obs.mode not in rules.modes)
    )


class InMemoryRangeStore:
    """:class:`RangeStore` over observations held in memory (each with a ``digest``)."""

    def __init__(self, observations: Sequence[Observation], rules: RowRules, name: str = "memory"):
        self.name = name
        self._given = list(observations)
        self._rules = rules
        self._rows: list[tuple[Observation, int, int, bool]] = []
        self._returned: Counter[int] = Counter()
        self._dups: list[int] = []

    def prepare(self) -> None:
        if any(o.key is None for o in self._given):
            raise SourceError(self.name, "a row has a NULL key")
        seen = Counter(o.key for o in self._given)
        self._dups = [key_hash(k) for k, n in seen.items() if n > 1]
        rules = self._rules
        self._rows = [
            (
                o,
                key_hash(o.key),
                row_hash(key_hash(o.key), o.digest or b"", o.mode, rules.grid(o.produced_at)),
                special(o, rules),
            )
            for o in self._given
        ]

    def sums(self, shift: int, parent_shift: int, parents: Sequence[int]) -> Mapping[int, RangeSum]:
        wanted = set(parents)
        groups: dict[int, list[int]] = {}
        for _o, h, x, spec in self._rows:
            if not spec and h >> parent_shift in wanted:
                groups.setdefault(h >> shift, []).append(x)
        return with_duplicates(
            {index: fold_sum(xs) for index, xs in groups.items()}, self._dups, shift
        )

    def rows(self, leaves: Sequence[Range]) -> Iterator[Observation]:
        chosen = [
            (o, spec)
            for o, h, _x, spec in self._rows
            if spec or any(leaf.contains(h) for leaf in leaves)
        ]
        for o, spec in sorted(chosen, key=lambda item: item[0].key):
            if not spec:
                self._returned[self._bucket(o)] += 1
            yield o

    def plain_timeline(self) -> Mapping[int, int]:
        return Counter(self._bucket(o) for o, _h, _x, spec in self._rows if not spec)

    def returned_plain(self) -> Mapping[int, int]:
        return self._returned

    def close(self) -> None:
        self._rows = []

    def _bucket(self, obs: Observation) -> int:
        return bucket_start(obs.produced_at, self._rules.bucket_seconds)
