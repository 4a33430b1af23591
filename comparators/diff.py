"""The comparison engine (pure): control vs candidate observations, key by key.

Both sides arrive sorted by key (SQL sources order by ``key COLLATE "C"``,
which is Python's string order), so the engine is a streaming merge join:
memory stays bounded by one key's records whatever the number of keys.

Per key: judge it only after its settle window; then leave it out when it was written in
a mode the comparison does not cover (``out_of_scope``) or when a side's record is flagged
inconclusive (``inconclusive``: e.g. a verify run a downstream gave no answer); duplicates
first; then
missing / extra; otherwise normalise, hash (fast path) and, only when the
digests differ, explain with deepdiff and re-check tolerances.

A key with a control but no candidate is told apart by where the pipeline stands
(:class:`~comparators.position.PipelinePosition`, when the scope has one):

- ``pending`` while its control's time plus the settle window is later than the
  pipeline's watermark (the pipeline has not consumed everything written by then; the
  settle window covers the capture delay between the commit and its Kafka record);
- ``expired`` when the Kafka partition its key maps to (the Java producer's default
  partitioner, :mod:`comparators.kafka_partitioner`) lost records unread (log start
  past the group's committed offset), its control is older than the partition's oldest
  remaining record, and fewer keys of that partition were judged expired so far than
  records were deleted (so the count never exceeds the records lost);
- ``missing`` otherwise.

Without a position (unit use, or Kafka could not be read) only the settle window
applies, as before, and :attr:`Scope.watermark_known` is false so a gate can treat the
pending/missing split as unmeasured.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from comparators.errors import SourceError, UnsortedSourceError
from comparators.explain import Difference, explain, not_explained
from comparators.fingerprint import digest
from comparators.invariants import Invariant, Violation, check_all
from comparators.kafka_partitioner import STRING_KEYS, KeyFormat, partition_for
from comparators.partition import Partition
from comparators.position import PartitionPosition, PipelinePosition
from comparators.result import Accumulator, Category, ComparisonResult, KeyResult
from comparators.rules import CompareOptions, Record
from comparators.values import materialise, parse_time


@dataclass(frozen=True, slots=True)
class Observation:
    """One outcome row from one side: its key, the record and when that side produced it.

    ``digest`` is set by sources that hash rows on the server (level 0: equal
    digests on both sides mean a match without looking at the records). ``mode`` is the
    migration mode the key was written in (the record's mode column, e.g. ``write_mode``),
    ``None`` when the record does not say. ``inconclusive``: the record's inconclusive column
    (e.g. a verify run that got no answer from a downstream) says it shows no decision; the
    key is then left out as ``inconclusive``, never judged.
    """

    key: str
    record: Mapping[str, Any]
    produced_at: datetime
    digest: bytes | None = None
    mode: str | None = None
    inconclusive: bool = False


DUAL_WRITE_MODES: frozenset[str] = frozenset({"dual", "naive-dual"})
"""Write-time modes a dual-write comparison (sync vs event outcomes) covers: both paths ran.
``naive-dual`` is in scope on purpose: its events are produced after the commit, and the
keys it loses must show up as missing (that is what the mode demonstrates)."""
ASYNC_MODES: frozenset[str] = frozenset({"async"})
"""Write-time modes the reverse comparison (event outcomes vs verify runs) covers."""


@dataclass(frozen=True, slots=True)
class Scope:
    """Which keys a run judges: as of ``now``, newer than ``since`` (watch), in ``partition``;
    the keys of ``revisit`` (a watcher's earlier missing ones) also when older.

    ``modes``: the write-time modes the comparison covers (``None``: every key); a key whose
    observation names another mode is ``out_of_scope``, one that names none is judged.
    ``position``: where the pipeline stands on its topic (``None``: unknown, only the settle
    window tells pending from missing); ``key_format``: how the connector writes Kafka keys
    (``string`` for an outbox-only connector, ``json`` with a schemaless JsonConverter).
    """

    now: datetime
    since: datetime | None = None
    partition: Partition = field(default_factory=Partition)
    revisit: frozenset[str] = frozenset()
    modes: frozenset[str] | None = None
    position: PipelinePosition | None = None
    key_format: KeyFormat = STRING_KEYS

    @property
    def watermark_known(self) -> bool:
        """Whether the pending/missing split rests on a measured watermark."""
        return self.position is not None and self.position.watermark_known


DEFAULT_MODE_FIELD = "write_mode"
DEFAULT_INCONCLUSIVE_FIELD = "inconclusive"
TRUE_TEXTS = frozenset({"true", "t", "1", "yes", "y", "on"})


def flag(value: Any) -> bool:
    """A boolean column read from JSON, SQL or text (``True``, ``1``, ``"true"``, ``"t"``)."""
    if isinstance(value, str):
        return value.strip().lower() in TRUE_TEXTS
    return bool(value)


def observation(
    record: Mapping[str, Any],
    key_field: str,
    side: str = "",
    mode_field: str | None = DEFAULT_MODE_FIELD,
    inconclusive_field: str | None = DEFAULT_INCONCLUSIVE_FIELD,
) -> Observation:
    """Wrap an outcome record (a mapping holding ``key_field`` and ``produced_at``) as an
    observation; its write-time
    mode is the ``mode_field`` column and its inconclusive flag the ``inconclusive_field``
    column when the record has them."""
    if key_field not in record:
        raise SourceError(side or "source", f"row has no key column {key_field!r}")
    if record[key_field] is None:  # never the text "None", which would join another row
        raise SourceError(side or "source", f"a row has a NULL key {key_field!r}")
    at = parse_time(record.get("produced_at"))
    if at is None:
        raise SourceError(side or "source", f"row {record[key_field]!r} has no valid produced_at")
    mode = record.get(mode_field) if mode_field else None
    inconclusive = flag(record.get(inconclusive_field)) if inconclusive_field else False
    return Observation(
        str(record[key_field]),
        record,
        at,
        mode=None if mode is None else str(mode),
        inconclusive=inconclusive,
    )


def _grouped(side: str, items: Iterable[Observation]) -> Iterator[list[Observation]]:
    group: list[Observation] = []
    for obs in items:
        if group and obs.key == group[0].key:
            group.append(obs)
            continue
        if group:
            if obs.key < group[0].key:
                raise UnsortedSourceError(side, group[0].key, obs.key)
            yield group
        group = [obs]
    if group:
        yield group


class _Judge:
    """Classifies one key from its control and candidate observations."""

    def __init__(
        self, options: CompareOptions, scope: Scope, invariants: Sequence[Invariant]
    ) -> None:
        self.options = options
        self.scope = scope
        self.invariants = tuple(invariants)
        self.absent = _Absence(scope, options.settle)
        self.explained: Counter[Category] = Counter()

    def __call__(
        self, controls: list[Observation], candidates: list[Observation]
    ) -> KeyResult | None:
        first = controls[0] if controls else candidates[0]
        key, at = first.key, first.produced_at
        scope = self.scope
        if not scope.partition.contains(key):
            return None
        if scope.since is not None and at <= scope.since and key not in scope.revisit:
            return None
        c0 = controls[0] if controls else None
        d0 = candidates[0] if candidates else None
        control_at = c0.produced_at if c0 else None
        candidate_at = d0.produced_at if d0 else None
        if at + self.options.settle > scope.now:
            return KeyResult(
                key, Category.PENDING, control_at=control_at, candidate_at=candidate_at
            )
        mode = c0.mode if c0 is not None and c0.mode is not None else d0.mode if d0 else None
        left_out: Category | None = None
        if mode is not None and scope.modes is not None and mode not in scope.modes:
            left_out = Category.OUT_OF_SCOPE
        elif any(o.inconclusive for o in (*controls, *candidates)):
            left_out = Category.INCONCLUSIVE
        if left_out is not None:
            return KeyResult(
                key,
                left_out,
                control_at=control_at,
                candidate_at=candidate_at,
                control_count=len(controls),
                candidate_count=len(candidates),
            )
        category, diffs = self._classify(c0, d0, len(controls), len(candidates))
        if category is Category.PENDING:
            return KeyResult(key, category, control_at=control_at, candidate_at=candidate_at)
        keep = category is not Category.MATCH
        return KeyResult(
            key,
            category,
            (materialise(c0.record) if keep else c0.record) if c0 else None,
            (materialise(d0.record) if keep else d0.record) if d0 else None,
            control_at,
            candidate_at,
            len(controls),
            len(candidates),
            diffs,
            self._violations(key, controls, candidates) if self.invariants else (),
        )

    def _classify(
        self, c0: Observation | None, d0: Observation | None, n_control: int, n_candidate: int
    ) -> tuple[Category, tuple[Difference, ...]]:
        differ: tuple[Record, Record] | tuple[Difference, ...] | None = None
        if c0 is not None and d0 is not None:
            same_at_source = c0.digest is not None and c0.digest == d0.digest
            # digests from the source that differ: the raw records differ too, mostly
            compared_at_source = c0.digest is not None and d0.digest is not None
            differ = (
                None
                if same_at_source
                else self._differing(c0.record, d0.record, raw=not compared_at_source)
            )
        if n_control > 1 or n_candidate > 1:
            category = Category.DUPLICATE
        elif d0 is None:
            assert c0 is not None
            category = self.absent(c0)
        elif c0 is None:
            category = Category.EXTRA
        elif differ is not None:
            category = Category.DIVERGENT
        elif d0.produced_at > c0.produced_at + self.options.settle:
            category = Category.LATE
        else:
            category = Category.MATCH
        return category, self._explained(category, differ)

    def _differing(
        self, control: Mapping[str, Any], candidate: Mapping[str, Any], *, raw: bool = True
    ) -> tuple[Record, Record] | tuple[Difference, ...] | None:
        """The normalised records when they disagree (their differences when tolerances
        apply: only explaining tells); ``None`` when they agree. ``raw``: first try the
        cheap digest of the records as they are (skipped when the source's digests already
        differ: equal normalised records are what decides, and raw equality implies it)."""
        opts = self.options
        if raw and opts.raw_digest(control) == opts.raw_digest(candidate):
            return None
        nc, nd = opts.normalise(control), opts.normalise(candidate)
        if agree(nc, nd, opts):
            return None
        if opts.tolerances:  # values within a tolerance agree: only explaining tells
            diffs = explain(nc, nd, opts)
            return diffs or None
        return nc, nd

    def _explained(
        self, category: Category, differ: tuple[Record, Record] | tuple[Difference, ...] | None
    ) -> tuple[Difference, ...]:
        """The differences of disagreeing records: deepdiff's for the first
        ``explain_limit`` keys of the category, :func:`not_explained` past them."""
        if differ is None:
            return ()
        if differ and isinstance(differ[0], Difference):
            return tuple(d for d in differ if isinstance(d, Difference))
        if self.explained[category] >= self.options.explain_limit:
            return not_explained()
        self.explained[category] += 1
        control, candidate = differ
        assert not isinstance(control, Difference) and not isinstance(candidate, Difference)
        return explain(control, candidate, self.options)

    def _violations(
        self, key: str, controls: list[Observation], candidates: list[Observation]
    ) -> tuple[Violation, ...]:
        if not self.invariants:
            return ()
        found: list[Violation] = []
        for side, group in (("control", controls), ("candidate", candidates)):
            if group:
                records = [materialise(o.record) for o in group]
                found.extend(check_all(self.invariants, side, key, records))
        return tuple(found)


class _Absence:
    """Tells ``pending``, ``expired`` and ``missing`` apart for a key without candidate (see
    the module docstring); counts the keys judged expired per Kafka partition."""

    def __init__(self, scope: Scope, settle: timedelta) -> None:
        self.position = scope.position
        self.settle = settle
        self.key_format = scope.key_format
        parts = scope.position.partitions if scope.position else ()
        self.partitions: dict[int, PartitionPosition] = {p.partition: p for p in parts}
        self.count = max(self.partitions, default=-1) + 1
        self.expired: dict[int, int] = {}

    def __call__(self, control: Observation) -> Category:
        pos = self.position
        if pos is None:
            return Category.MISSING
        at = control.produced_at
        if not pos.watermark_known or at + self.settle > pos.watermark:
            return Category.PENDING
        if not self.count:
            return Category.MISSING
        number = partition_for(control.key, self.count, self.key_format)
        part = self.partitions.get(number)
        if part is None or part.expired <= self.expired.get(number, 0):
            return Category.MISSING
        if at >= _oldest_remaining(part, pos.observed_at):
            return Category.MISSING
        self.expired[number] = self.expired.get(number, 0) + 1
        return Category.EXPIRED


def _oldest_remaining(part: PartitionPosition, observed_at: datetime) -> datetime:
    """The time of the partition's oldest record still in Kafka (every deleted one is older);
    ``observed_at`` when none is left unread."""
    if part.lag_messages and part.oldest_unconsumed_at is not None:
        return part.oldest_unconsumed_at
    return observed_at


def agree(control: Record, candidate: Record, options: CompareOptions) -> bool:
    """Levels two and three, on normalised records: equal digests, or equal digests once
    toleranced values are rounded to their tolerance step."""
    if digest(control) == digest(candidate):
        return True
    if not options.tolerances:
        return False
    return digest(options.quantise(control)) == digest(options.quantise(candidate))


def observe(
    control: Iterable[Observation],
    candidate: Iterable[Observation],
    options: CompareOptions,
    scope: Scope,
    invariants: Sequence[Invariant] = (),
) -> Iterator[KeyResult]:
    """One :class:`KeyResult` per key in scope (a streaming merge join of the two sides)."""
    judge = _Judge(options, scope, invariants)
    left, right = _grouped("control", control), _grouped("candidate", candidate)
    c, d = next(left, None), next(right, None)
    while c is not None or d is not None:
        if d is None or (c is not None and c[0].key < d[0].key):
            assert c is not None
            result, c = judge(c, []), next(left, None)
        elif c is None or d[0].key < c[0].key:
            result, d = judge([], d), next(right, None)
        else:
            result = judge(c, d)
            c, d = next(left, None), next(right, None)
        if result is not None:
            yield result


def summarise(results: Iterable[KeyResult], options: CompareOptions) -> ComparisonResult:
    """Fold per-key observations into a :class:`ComparisonResult`."""
    acc = Accumulator(options.sample_limit, options.timeline_bucket_seconds)
    for res in results:
        acc.add(res)
    return acc.freeze()


def compare(
    control: Iterable[Observation],
    candidate: Iterable[Observation],
    options: CompareOptions,
    scope: Scope,
    invariants: Sequence[Invariant] = (),
) -> ComparisonResult:
    """Compare two key-sorted streams of observations and summarise the result."""
    return summarise(observe(control, candidate, options, scope, invariants), options)


def diff_records(
    control: Mapping[str, Any], candidate: Mapping[str, Any], options: CompareOptions | None = None
) -> tuple[Difference, ...]:
    """The differences between two single records under ``options`` (empty when they agree;
    none given: the default rules, no key involved)."""
    opts = options or CompareOptions(key="")
    if opts.raw_digest(control) == opts.raw_digest(candidate):
        return ()
    nc, nd = opts.normalise(control), opts.normalise(candidate)
    return () if agree(nc, nd, opts) else explain(nc, nd, opts)


def sort_observations(items: Iterable[Observation]) -> list[Observation]:
    """Key-sorted copy (stable), for sources that cannot sort themselves."""
    return sorted(items, key=lambda o: o.key)
