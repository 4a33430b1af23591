"""``observe_many`` updates a histogram exactly as observing each value would."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest

from legacy_app.orderflow.samples import order_payload
from legacy_app.orderflow.store_memory import InMemoryStore
from shadow.fakes import InMemoryBroker
from shadow.metrics import LATENCY_BUCKETS, Metrics, observe_many
from tests.unit.shadow.conftest import WorkerFactory, publish

seconds = st.one_of(
    st.sampled_from([0.0, *LATENCY_BUCKETS]),  # on a bound: that bucket (le is inclusive)
    st.floats(min_value=0.0, max_value=20.0),  # up to beyond the last bound (+Inf)
)


def exposition(values: list[float], *, bulk: bool) -> bytes:
    metrics = Metrics(CollectorRegistry())
    child = metrics.latency.labels("p")
    if bulk:
        observe_many(child, values)
    else:
        for v in values:
            child.observe(v)
    return b"\n".join(
        line
        for line in generate_latest(metrics.registry).splitlines()
        if b"_created" not in line  # creation times differ between the two registries
    )


@given(st.lists(seconds, max_size=40))
def test_observe_many_equals_observing_one_value_at_a_time(values: list[float]) -> None:
    assert exposition(values, bulk=True) == exposition(values, bulk=False)


def test_the_worker_observes_the_handler_time_of_every_applied_event(
    broker: InMemoryBroker, store: InMemoryStore, make_worker: WorkerFactory
) -> None:
    for i in range(5):
        publish(broker, order_payload(f"m-{i}"), event_id=f"e-m-{i}")
    worker = make_worker()
    report = worker.step()
    assert report.statuses["done"] == 5
    count = worker.metrics.registry.get_sample_value(
        "shadow_handler_latency_seconds_count", {"processor": worker.processor.name}
    )
    assert count == 5
