"""The result of a comparison: per-key observations folded into counts, samples and series.

:class:`ComparisonResult` is a value; :func:`merge` combines results of
partitions or watch increments. ``merge`` is associative and commutative: counts,
histograms and series add up, and samples keep the ``sample_limit`` smallest
keys per category, which is the same whether taken at once or in steps.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from comparators.errors import MergeError
from comparators.explain import Difference
from comparators.fingerprint import canonical_json
from comparators.invariants import Violation


class Category(StrEnum):
    """How one key was judged.

    Judged (they make up ``settled``): ``match`` and ``late`` agree; ``missing`` (no
    candidate although the pipeline has passed the key), ``expired`` (no candidate because
    Kafka deleted the key's record before the pipeline read it), ``extra``, ``divergent``
    and ``duplicate`` are mismatches. ``expired`` is a mismatch because the outcome was
    lost all the same: it fails a gate like ``missing`` does, but names a different cause
    (retention outran the consumers, not a pipeline that dropped an event), and ``repair``
    re-emits it like a missing one.

    Left out (counted and reported, never judged): ``pending`` (the settle window is open
    or the pipeline has not yet consumed up to the key), ``out_of_scope`` (the key was
    written in a mode the comparison does not cover, e.g. ``sync`` in a dual-write
    comparison: no event was ever written for it) and ``inconclusive`` (a side's record says
    it shows no decision, e.g. a verify run whose downstream gave the dry run no answer: it
    tells about the infrastructure, not the logic being compared).
    """

    MATCH = "match"
    LATE = "late"
    MISSING = "missing"
    EXPIRED = "expired"
    EXTRA = "extra"
    DIVERGENT = "divergent"
    DUPLICATE = "duplicate"
    PENDING = "pending"
    OUT_OF_SCOPE = "out_of_scope"
    INCONCLUSIVE = "inconclusive"


LEFT_OUT: tuple[Category, ...] = (Category.PENDING, Category.OUT_OF_SCOPE, Category.INCONCLUSIVE)
JUDGED: tuple[Category, ...] = tuple(c for c in Category if c not in LEFT_OUT)
MISMATCHES: tuple[Category, ...] = (
    Category.MISSING,
    Category.EXPIRED,
    Category.EXTRA,
    Category.DIVERGENT,
    Category.DUPLICATE,
)
# Upper bounds (seconds) of the settle-lag histogram buckets; one more bucket holds the rest.
LAG_BOUNDS: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)


@dataclass(frozen=True, slots=True)
class KeyResult:
    """The observation for one key: its category and what each side produced."""

    key: str
    category: Category
    control: Mapping[str, Any] | None = None
    candidate: Mapping[str, Any] | None = None
    control_at: datetime | None = None
    candidate_at: datetime | None = None
    control_count: int = 0
    candidate_count: int = 0
    differences: tuple[Difference, ...] = ()
    violations: tuple[Violation, ...] = ()

    @property
    def judged_at(self) -> datetime | None:
        """The time the settle window runs from: the control's, else the candidate's."""
        return self.control_at or self.candidate_at

    @property
    def lag_seconds(self) -> float | None:
        if self.control_at is None or self.candidate_at is None:
            return None
        return (self.candidate_at - self.control_at).total_seconds()


@dataclass(frozen=True, slots=True)
class Mismatch:
    """A sample of a non-matching (or late) key kept for the report."""

    key: str
    category: str
    differences: tuple[Difference, ...] = ()
    control: Mapping[str, Any] | None = None
    candidate: Mapping[str, Any] | None = None
    control_count: int = 0
    candidate_count: int = 0
    lag_seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "category": self.category,
            "differences": [d.to_dict() for d in self.differences],
            "control": self.control,
            "candidate": self.candidate,
            "control_count": self.control_count,
            "candidate_count": self.candidate_count,
            "lag_seconds": self.lag_seconds,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Mismatch:
        diffs = tuple(Difference(**d) for d in data.get("differences", []))
        return cls(
            key=data["key"],
            category=data["category"],
            differences=diffs,
            control=data.get("control"),
            candidate=data.get("candidate"),
            control_count=int(data.get("control_count", 0)),
            candidate_count=int(data.get("candidate_count", 0)),
            lag_seconds=data.get("lag_seconds"),
        )


def _zero_lags() -> tuple[int, ...]:
    return (0,) * (len(LAG_BOUNDS) + 1)


@dataclass(frozen=True, slots=True)
class ComparisonResult:
    """Counts per category, the paths that differ, invariant violations, samples and series."""

    counts: tuple[tuple[str, int], ...] = ()
    paths: tuple[tuple[str, int], ...] = ()
    violations: tuple[tuple[str, int], ...] = ()
    samples: tuple[Mismatch, ...] = ()
    violation_samples: tuple[Violation, ...] = ()
    lag_histogram: tuple[int, ...] = field(default_factory=_zero_lags)
    timeline: tuple[tuple[int, int, int], ...] = ()
    sample_limit: int = 20
    bucket_seconds: int = 60

    def count(self, category: Category | str) -> int:
        return dict(self.counts).get(str(category), 0)

    @property
    def settled(self) -> int:
        return sum(self.count(c) for c in JUDGED)

    @property
    def matched(self) -> int:
        """Matches, including late ones (they agree; only their timing is reported)."""
        return self.count(Category.MATCH) + self.count(Category.LATE)

    @property
    def pending(self) -> int:
        return self.count(Category.PENDING)

    @property
    def out_of_scope(self) -> int:
        return self.count(Category.OUT_OF_SCOPE)

    @property
    def inconclusive(self) -> int:
        return self.count(Category.INCONCLUSIVE)

    @property
    def left_out(self) -> int:
        """Keys seen but not judged: pending, out of scope and inconclusive."""
        return sum(self.count(c) for c in LEFT_OUT)

    @property
    def left_out_share(self) -> float:
        """Left-out keys over every key seen (``nan`` when none was seen)."""
        seen = self.settled + self.left_out
        return self.left_out / seen if seen else math.nan

    @property
    def match_rate(self) -> float:
        return self.matched / self.settled if self.settled else math.nan

    @property
    def violation_total(self) -> int:
        return sum(n for _, n in self.violations)

    def without_pending(self) -> ComparisonResult:
        return replace(self, counts=tuple((c, n) for c, n in self.counts if c != Category.PENDING))

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": dict(self.counts),
            "paths": dict(self.paths),
            "violations": dict(self.violations),
            "samples": [s.to_dict() for s in self.samples],
            "violation_samples": [v.to_dict() for v in self.violation_samples],
            "lag_histogram": list(self.lag_histogram),
            "lag_bounds": list(LAG_BOUNDS),
            "timeline": [list(t) for t in self.timeline],
            "sample_limit": self.sample_limit,
            "bucket_seconds": self.bucket_seconds,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ComparisonResult:
        return cls(
            counts=_sorted_items(data.get("counts", {})),
            paths=_sorted_items(data.get("paths", {})),
            violations=_sorted_items(data.get("violations", {})),
            samples=tuple(Mismatch.from_dict(s) for s in data.get("samples", [])),
            violation_samples=tuple(Violation(**v) for v in data.get("violation_samples", [])),
            lag_histogram=tuple(int(x) for x in data.get("lag_histogram", _zero_lags())),
            timeline=tuple((int(a), int(b), int(c)) for a, b, c in data.get("timeline", [])),
            sample_limit=int(data.get("sample_limit", 20)),
            bucket_seconds=int(data.get("bucket_seconds", 60)),
        )


def _sorted_items(mapping: Mapping[str, int]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted((k, int(v)) for k, v in mapping.items() if v))


def bucket_start(at: datetime, bucket_seconds: int) -> int:
    """The timeline bucket (its start, epoch seconds) a key judged at ``at`` falls in."""
    return int(at.timestamp()) // bucket_seconds * bucket_seconds


def retract_missing(
    result: ComparisonResult, keys: Sequence[tuple[str, datetime]]
) -> ComparisonResult:
    """``result`` without earlier ``missing`` judgements of ``keys`` (key, control time):
    count, timeline entry and sample (a watcher judging those keys again)."""
    if not keys:
        return result
    gone = {k for k, _at in keys}
    counts = Counter(dict(result.counts))
    counts[str(Category.MISSING)] -= len(keys)
    timeline = {start: [settled, matched] for start, settled, matched in result.timeline}
    for _key, at in keys:
        start = bucket_start(at, result.bucket_seconds)
        if start in timeline:
            timeline[start][0] -= 1
    return replace(
        result,
        counts=_sorted_items({c: n for c, n in counts.items() if n > 0}),
        timeline=tuple((k, s, m) for k, (s, m) in sorted(timeline.items()) if s > 0),
        samples=tuple(
            s for s in result.samples if not (s.key in gone and s.category == Category.MISSING)
        ),
    )


def lag_bucket(seconds: float) -> int:
    for i, bound in enumerate(LAG_BOUNDS):
        if seconds <= bound:
            return i
    return len(LAG_BOUNDS)


def _cap_samples(samples: Iterable[Mismatch], limit: int) -> tuple[Mismatch, ...]:
    kept: list[Mismatch] = []
    per: Counter[str] = Counter()
    for s in sorted(samples, key=_sample_order):
        if per[s.category] < limit:
            per[s.category] += 1
            kept.append(s)
    return tuple(kept)


def _sample_order(sample: Mismatch) -> tuple[str, str, str]:
    """Category, key, then content: a total order, so merging is order-independent."""
    return sample.category, sample.key, canonical_json(sample.to_dict())


def _cap_violations(items: Iterable[Violation], limit: int) -> tuple[Violation, ...]:
    ordered = sorted(items, key=lambda v: (v.invariant, v.side, v.key, v.reason))
    kept: list[Violation] = []
    per: Counter[tuple[str, str]] = Counter()
    for v in ordered:
        if per[(v.invariant, v.side)] < limit:
            per[(v.invariant, v.side)] += 1
            kept.append(v)
    return tuple(kept)


def merge2(a: ComparisonResult, b: ComparisonResult) -> ComparisonResult:
    """Combine two results (associative, commutative)."""
    if (a.sample_limit, a.bucket_seconds) != (b.sample_limit, b.bucket_seconds):
        raise MergeError("sample_limit and bucket_seconds must agree")
    timeline: dict[int, tuple[int, int]] = {}
    for start, settled, matched in (*a.timeline, *b.timeline):
        s0, m0 = timeline.get(start, (0, 0))
        timeline[start] = (s0 + settled, m0 + matched)
    return ComparisonResult(
        counts=_sorted_items(Counter(dict(a.counts)) + Counter(dict(b.counts))),
        paths=_sorted_items(Counter(dict(a.paths)) + Counter(dict(b.paths))),
        violations=_sorted_items(Counter(dict(a.violations)) + Counter(dict(b.violations))),
        samples=_cap_samples((*a.samples, *b.samples), a.sample_limit),
        violation_samples=_cap_violations(
            (*a.violation_samples, *b.violation_samples), a.sample_limit
        ),
        lag_histogram=tuple(x + y for x, y in zip(a.lag_histogram, b.lag_histogram, strict=True)),
        timeline=tuple((k, s, m) for k, (s, m) in sorted(timeline.items())),
        sample_limit=a.sample_limit,
        bucket_seconds=a.bucket_seconds,
    )


def merge(results: Iterable[ComparisonResult]) -> ComparisonResult:
    """Fold any number of results; ``merge([])`` is the empty result."""
    items = list(results)
    if not items:
        return ComparisonResult()
    out = items[0]
    for nxt in items[1:]:
        out = merge2(out, nxt)
    return out


class Accumulator:
    """Folds :class:`KeyResult` observations into a :class:`ComparisonResult` (mutable, fast)."""

    def __init__(self, sample_limit: int = 20, bucket_seconds: int = 60) -> None:
        self.sample_limit = sample_limit
        self.bucket_seconds = bucket_seconds
        self.counts: Counter[str] = Counter()
        self.paths: Counter[str] = Counter()
        self.violations: Counter[str] = Counter()
        self.samples: list[Mismatch] = []
        self.violation_samples: list[Violation] = []
        self.per_category: Counter[str] = Counter()
        self.per_violation: Counter[tuple[str, str]] = Counter()
        self.lags = [0] * (len(LAG_BOUNDS) + 1)
        self.timeline: dict[int, list[int]] = {}

    def add(self, obs: KeyResult) -> None:
        cat = obs.category
        self.counts[cat.value] += 1
        if cat in LEFT_OUT:
            return
        self._add_series(obs)
        for diff in obs.differences:
            self.paths[diff.rule_path] += 1
        for v in obs.violations:
            self.violations[f"{v.invariant}@{v.side}"] += 1
            if self.per_violation[(v.invariant, v.side)] < self.sample_limit:
                self.per_violation[(v.invariant, v.side)] += 1
                self.violation_samples.append(v)
        if cat is not Category.MATCH and self.per_category[cat.value] < self.sample_limit:
            self.per_category[cat.value] += 1
            self.samples.append(_sample(obs))

    def _add_series(self, obs: KeyResult) -> None:
        lag = obs.lag_seconds
        if lag is not None:
            self.lags[lag_bucket(lag)] += 1
        at = obs.judged_at
        if at is not None:
            start = bucket_start(at, self.bucket_seconds)
            slot = self.timeline.setdefault(start, [0, 0])
            slot[0] += 1
            slot[1] += obs.category in (Category.MATCH, Category.LATE)

    def freeze(self) -> ComparisonResult:
        return ComparisonResult(
            counts=_sorted_items(self.counts),
            paths=_sorted_items(self.paths),
            violations=_sorted_items(self.violations),
            samples=_cap_samples(self.samples, self.sample_limit),
            violation_samples=_cap_violations(self.violation_samples, self.sample_limit),
            lag_histogram=tuple(self.lags),
            timeline=tuple((k, s, m) for k, (s, m) in sorted(self.timeline.items())),
            sample_limit=self.sample_limit,
            bucket_seconds=self.bucket_seconds,
        )


def _sample(obs: KeyResult) -> Mismatch:
    return Mismatch(
        key=obs.key,
        category=str(obs.category),
        differences=obs.differences,
        control=obs.control,
        candidate=obs.candidate,
        control_count=obs.control_count,
        candidate_count=obs.candidate_count,
        lag_seconds=obs.lag_seconds,
    )
