"""Every service of the sample monolith as a real gunicorn process, on the stack's Postgres."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import Engine

from cutover_common.secrets import Secret
from legacy_app.runner import RunSpec, start_services, stop_services
from legacy_app.schema import make_engine
from legacy_app.wsgi import SERVICES
from rehearsal.stack.endpoints import Endpoints


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass
class Running:
    """A started set of services and a way to talk to them."""

    spec: RunSpec
    engine: Engine

    @property
    def order_url(self) -> str:
        return self.spec.url("order")

    def customer(self, email: str = "ada@example.com") -> str:
        resp = requests.post(
            f"{self.order_url}/customers", json={"name": "Ada", "email": email}, timeout=5
        )
        assert resp.status_code == 201, resp.text
        return str(resp.json()["id"])

    def order(
        self, customer_id: str, items: list[tuple[str, int]], method: str = "card", **kw: Any
    ) -> requests.Response:
        body = {
            "customer_id": customer_id,
            "items": [{"sku": s, "qty": q} for s, q in items],
            "payment_method": method,
        }
        return requests.post(f"{self.order_url}/orders", json=body, timeout=30, **kw)


@pytest.fixture
def start_app(
    endpoints: Endpoints, fresh_database: str, tmp_path: Path
) -> Iterator[Callable[..., Running]]:
    """``start_app(**env)`` starts the five services on free ports against ``fresh_database``."""
    started: list[Running] = []

    def start(**env: str) -> Running:
        ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
        base_env = {
            "CUTOVER_MODE_CACHE_SECONDS": "0",
            "CUTOVER_KAFKA_BOOTSTRAP_SERVERS": endpoints.bootstrap_servers,
            "CUTOVER_HTTP_READ_TIMEOUT": "2",
        }
        spec = RunSpec(
            run_dir=tmp_path / f"app{len(started)}",
            database_url=Secret(endpoints.database_url(fresh_database)),
            ports=ports,
            host=endpoints.host,
            env={**base_env, **env},
            threads=8,
        )
        start_services(spec)
        running = Running(spec, make_engine(spec.database_url.reveal(), pool_size=2))
        started.append(running)
        return running

    yield start
    for running in started:
        stop_services(running.spec.run_dir)
        running.engine.dispose()
