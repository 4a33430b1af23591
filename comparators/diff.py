"""The comparison engine (pure): control vs candidate observations, key by key.

Both sides arrive sorted by key (SQL sources order by ``key COLLATE "C"``,
which is Python's string order), so the engine is a streaming merge join:
memory stays bounded by one key's records whatever the number of keys.

Per key: judge it only after its settle window; duplicates first; then
missing / extra; otherwise normalise, hash (fast path) and, only when the
digests differ, explain with deepdiff and re-check tolerances.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from comparators.errors import SourceError, UnsortedSourceError
from comparators.explain import Difference, explain
from comparators.fingerprint import digest
from comparators.invariants import Invariant, Violation, check_all
from comparators.partition import Partition
from comparators.result import Accumulator, Category, ComparisonResult, KeyResult
from comparators.rules import CompareOptions, Record
from comparators.values import materialise, parse_time


@dataclass(frozen=True, slots=True)
class Observation:
    """One outcome row from one side: its key, the record and when that side produced it.

    ``digest`` is set by sources that hash rows on the server (level 0: equal
    digests on both sides mean a match without looking at the records).
    """

    key: str
    record: Mapping[str, Any]
    produced_at: datetime
    digest: bytes | None = None


@dataclass(frozen=True, slots=True)
class Scope:
    """Which keys a run judges: as of ``now``, newer than ``since`` (watch), in ``partition``;
    the keys of ``revisit`` (a watcher's earlier missing ones) also when older."""

    now: datetime
    since: datetime | None = None
    partition: Partition = field(default_factory=Partition)
    revisit: frozenset[str] = frozenset()


def observation(
    record: Mapping[str, Any], key_field: str = "order_id", side: str = ""
) -> Observation:
    """Wrap an outcome record (``Outcome.to_dict()`` shape) as an observation."""
    if key_field not in record:
        raise SourceError(side or "source", f"row has no key column {key_field!r}")
    at = parse_time(record.get("produced_at"))
    if at is None:
        raise SourceError(side or "source", f"row {record[key_field]!r} has no valid produced_at")
    return Observation(str(record[key_field]), record, at)


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
        category, diffs = self._classify(c0, d0, len(controls), len(candidates))
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
        diffs: tuple[Difference, ...] = ()
        if c0 is not None and d0 is not None:
            same_at_source = c0.digest is not None and c0.digest == d0.digest
            diffs = () if same_at_source else self._differences(c0.record, d0.record)
        if n_control > 1 or n_candidate > 1:
            return Category.DUPLICATE, diffs
        if d0 is None:
            return Category.MISSING, diffs
        if c0 is None:
            return Category.EXTRA, diffs
        if diffs:
            return Category.DIVERGENT, diffs
        if d0.produced_at > c0.produced_at + self.options.settle:
            return Category.LATE, diffs
        return Category.MATCH, diffs

    def _differences(
        self, control: Mapping[str, Any], candidate: Mapping[str, Any]
    ) -> tuple[Difference, ...]:
        opts = self.options
        if opts.raw_digest(control) == opts.raw_digest(candidate):
            return ()
        nc, nd = opts.normalise(control), opts.normalise(candidate)
        return () if agree(nc, nd, opts) else explain(nc, nd, opts)

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
    """The differences between two single records under ``options`` (empty when they agree)."""
    opts = options or CompareOptions()
    if opts.raw_digest(control) == opts.raw_digest(candidate):
        return ()
    nc, nd = opts.normalise(control), opts.normalise(candidate)
    return () if agree(nc, nd, opts) else explain(nc, nd, opts)


def sort_observations(items: Iterable[Observation]) -> list[Observation]:
    """Key-sorted copy (stable), for sources that cannot sort themselves."""
    return sorted(items, key=lambda o: o.key)
