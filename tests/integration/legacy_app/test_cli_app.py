"""``cutover app up|status|down`` functions against the real stack (own database, ports, run dir)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from legacy_app.models import Product
from legacy_app.schema import make_engine
from legacy_app.wsgi import SERVICES
from rehearsal import app_cli as cli
from tests.integration.legacy_app.conftest import free_ports


def test_up_status_down(endpoints, fresh_database: str, tmp_path: Path) -> None:
    ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
    run_dir = tmp_path / "app"
    try:
        out = io.StringIO()
        cli.app_up(out, database=fresh_database, ports=ports, run_dir=run_dir, as_json=True)
        assert {s["service"]: s["healthy"] for s in json.loads(out.getvalue())} == dict.fromkeys(
            SERVICES, True
        )
        assert sorted(p.name for p in run_dir.glob("*.pid")) == sorted(f"{s}.pid" for s in SERVICES)
        health = requests.get(
            f"http://{endpoints.host}:{ports['payment']}/health", timeout=5
        ).json()
        assert health == {"service": "payment", "status": "ok"}

        cli.app_up(
            io.StringIO(), database=fresh_database, ports=ports, run_dir=run_dir
        )  # idempotent
        engine = make_engine(endpoints.database_url(fresh_database), pool_size=1)
        with Session(engine) as s:
            assert s.scalar(select(func.count()).select_from(Product)) == 53  # seeded once
        engine.dispose()
    finally:
        stopped = cli.app_down(io.StringIO(), run_dir=run_dir)
    assert sorted(stopped) == sorted(SERVICES)
    assert not any(s.running for s in cli.app_status(io.StringIO(), run_dir=run_dir))
