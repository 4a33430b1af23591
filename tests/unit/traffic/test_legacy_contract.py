"""The traffic generator against the real order API (SQLite, fake downstreams)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from rehearsal.traffic import Kind, TrafficConfig, plan_requests, run_traffic
from tests.unit.traffic.fake_api import serve


@pytest.fixture
def legacy_base_url(tmp_path: Path) -> Iterator[str]:
    from legacy_app.app import create_app
    from legacy_app.fakes import FakeWorld, fake_downstreams
    from legacy_app.modes import StaticModes
    from legacy_app.outbox import MemoryPublisher
    from legacy_app.schema import create_all, make_engine
    from legacy_app.seed import seed_catalogue

    url = f"sqlite+pysqlite:///{tmp_path / 'legacy.db'}"
    create_all(url)
    engine = make_engine(url)
    seed_catalogue(engine)
    engine.dispose()
    ports, _ = fake_downstreams(FakeWorld())
    app = create_app(
        {"DATABASE_URL": url},
        environ={},
        downstreams=ports,
        modes=StaticModes(),
        publisher=MemoryPublisher(),
    )
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with serve(app) as base:
        yield base


def test_every_kind_gets_the_expected_answer_from_the_order_api(legacy_base_url: str) -> None:
    config = TrafficConfig(legacy_base_url, rate=300, count=60, concurrency=4, seed=7, run_id="c")
    report = run_traffic(config)
    assert report.passed, report.to_dict()["checks"]
    plan = plan_requests(7, 60, run_id="c")
    kinds = {r.kind for r in plan}
    assert {Kind.ORDER, Kind.NEW_CUSTOMER, Kind.MALFORMED} <= kinds
    statuses = {o["kind"]: o["status"] for o in report.orders}
    assert statuses["order"] == "completed"
    if Kind.OUT_OF_STOCK in kinds:
        assert statuses["out_of_stock"] == "failed"
    if Kind.DECLINED_PAYMENT in kinds:
        assert statuses["declined_payment"] == "failed"
