"""Prometheus metrics of one shadow worker (own registry; optional HTTP endpoint).

Children of labelled metrics are cached, so counting an event costs a dict look-up.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter as Tally
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

LATENCY_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.5,
    1.0,
    5.0,
)


class Metrics:
    """consumed, processed, failed, dead-lettered, deferred, lag per partition, handler latency,
    batches redone serially."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.consumed = Counter("shadow_events_consumed", "Records consumed", ["topic"], registry=r)
        self.processed = Counter(
            "shadow_events_processed",
            "Events applied to the shadow store",
            ["processor"],
            registry=r,
        )
        self.skipped = Counter(
            "shadow_events_skipped", "Records skipped (ignored types, duplicates, tombstones)",
            ["reason"], registry=r,
        )  # fmt: skip
        self.failed = Counter(
            "shadow_events_failed", "Handler attempts that failed", ["reason"], registry=r
        )
        self.dead_lettered = Counter(
            "shadow_events_dead_lettered",
            "Records sent to the dead-letter topic",
            ["kind"],
            registry=r,
        )
        self.deferred = Counter(
            "shadow_partitions_paused",
            "Partitions paused (circuit open / transient)",
            ["service"],
            registry=r,
        )
        self.lag = Gauge(
            "shadow_consumer_lag",
            "High watermark minus position",
            ["topic", "partition"],
            registry=r,
        )
        self.latency = Histogram(
            "shadow_handler_latency_seconds", "Handler time per event", ["processor"],
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.batch_seconds = Histogram(
            "shadow_batch_seconds", "Time per batch (consume excluded)", registry=r,
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )  # fmt: skip
        self.redone = Counter(
            "shadow_batches_redone_serially",
            "Write-behind batches redone the serial way (stale stock, refused or failed write, "
            "store unreadable, a partition paused meanwhile)",
            ["reason"],
            registry=r,
        )
        self.stuck = Gauge(
            "shadow_partition_stuck",
            "Offset of the record a partition is stuck at (its dead letter cannot be produced); "
            "absent when the partition is not stuck",
            ["topic", "partition"],
            registry=r,
        )
        self._cache: dict[tuple[str, str], object] = {}

    def serve(self, port: int, addr: str = "127.0.0.1") -> None:
        """Expose ``/metrics`` on ``addr:port``."""
        start_http_server(port, addr=addr, registry=self.registry)

    def inc_consumed(self, topic: str, n: int) -> None:
        self.consumed.labels(topic).inc(n)

    def set_lag(self, lags: dict[tuple[str, int], int]) -> None:
        for (topic, partition), value in lags.items():
            self.lag.labels(topic, str(partition)).set(value)

    def set_stuck(self, tp: tuple[str, int], offset: int) -> None:
        self.stuck.labels(*_labels(tp)).set(offset)

    def clear_stuck(self, tp: tuple[str, int]) -> None:
        if _labels(tp) in self.stuck._metrics:  # prometheus_client's children, by label values
            self.stuck.remove(*_labels(tp))


def _labels(tp: tuple[str, int]) -> tuple[str, str]:
    return (tp[0], str(tp[1]))


def observe_many(child: Histogram, values: Sequence[float]) -> None:
    """``child.observe(v)`` for each of ``values``, with one locked update per bucket touched
    instead of two per value (a worker observes every event's handler time, ~1 µs each).

    It adds to the child's sum and buckets directly (prometheus_client's own attributes, the
    version pinned in ``pyproject.toml``); ``tests/unit/shadow/test_metrics.py`` checks the
    exposition against observing one value at a time.
    """
    if not values:
        return
    bounds = child._upper_bounds  # ends with +Inf: every value falls in some bucket
    child._sum.inc(sum(values))
    for index, n in Tally(bisect_left(bounds, v) for v in values).items():
        child._buckets[index].inc(n)
