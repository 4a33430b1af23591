from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from phases.context import StepContext
from phases.fakes import fake_ports
from phases.plan import Plan, load_plan
from phases.ports import Ports
from phases.runner import Runner, StoreDrillLog
from phases.steps import default_graph
from phases.store import SqlModeStore, StateStore
from rehearsal.stack.endpoints import Endpoints

SAMPLE = Path(__file__).resolve().parents[3] / "phases" / "examples" / "sample-plan.yaml"


@pytest.fixture
def pg_url(endpoints: Endpoints, fresh_database: str) -> str:
    return endpoints.database_url(fresh_database)


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[StateStore]:
    store = StateStore.from_url(pg_url)
    store.initialise()
    yield store
    store.engine.dispose()


@pytest.fixture
def plan() -> Plan:
    return load_plan(SAMPLE)


@pytest.fixture
def make_pg_runner(
    plan: Plan, pg_store: StateStore, tmp_path: Path
) -> Iterator[Callable[..., Runner]]:
    stores: list[StateStore] = []

    def build(actor: str = "alice@test", ports: Ports | None = None) -> Runner:
        store = StateStore.from_url(pg_store.engine.url.render_as_string(hide_password=False))
        stores.append(store)
        p = ports or fake_ports(SqlModeStore(store.engine))  # type: ignore[arg-type]
        ctx = StepContext(plan=plan, ports=p, actor=actor, drills=StoreDrillLog(store, actor))
        return Runner(store=store, ctx=ctx, graph=default_graph(), reports_dir=tmp_path / "reports")

    yield build
    for s in stores:
        s.engine.dispose()
