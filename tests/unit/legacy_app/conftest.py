from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from cutover.state.init import upgrade as init_cutover_state
from legacy_app.app import create_app
from legacy_app.fakes import FakeWorld, fake_downstreams
from legacy_app.modes import StaticModes
from legacy_app.outbox import MemoryPublisher
from legacy_app.schema import create_schema, make_engine
from legacy_app.seed import seed_catalogue


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite+pysqlite:///{tmp_path / 'legacy.db'}"
    engine = make_engine(url)
    create_schema(engine)
    init_cutover_state(engine)  # `cutover init`: the mode, verify and blocked-call tables
    seed_catalogue(engine)
    engine.dispose()
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def world() -> FakeWorld:
    return FakeWorld()


@pytest.fixture
def modes() -> StaticModes:
    return StaticModes()


@pytest.fixture
def publisher() -> MemoryPublisher:
    return MemoryPublisher()


@pytest.fixture
def order_app(
    db_url: str, world: FakeWorld, modes: StaticModes, publisher: MemoryPublisher
) -> Flask:
    ports, _ = fake_downstreams(world)
    return create_app(
        {"DATABASE_URL": db_url, "MAX_BODY_BYTES": 4096},
        environ={},
        downstreams=ports,
        modes=modes,
        publisher=publisher,
    )


@pytest.fixture
def client(order_app: Flask) -> FlaskClient:
    return order_app.test_client()


@pytest.fixture
def customer(client: FlaskClient) -> dict[str, str]:
    resp = client.post("/customers", json={"name": "Ada", "email": "ada@example.com"})
    assert resp.status_code == 201
    return resp.get_json()
