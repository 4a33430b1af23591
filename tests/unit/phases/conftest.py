from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from phases.context import StepContext
from phases.fakes import InMemoryModeStore, fake_ports
from phases.plan import Plan, load_plan
from phases.ports import Ports
from phases.runner import Runner, StoreDrillLog
from phases.steps import default_graph
from phases.store import SqlModeStore, StateStore

SAMPLE = Path(__file__).resolve().parents[3] / "phases" / "examples" / "sample-plan.yaml"


@pytest.fixture
def plan() -> Plan:
    return load_plan(SAMPLE)


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    s = StateStore.from_url(f"sqlite:///{tmp_path / 'state.db'}")
    s.initialise()
    return s


@pytest.fixture
def ports(store: StateStore) -> Ports:
    return fake_ports(InMemoryModeStore())


@pytest.fixture
def make_runner(
    plan: Plan, store: StateStore, ports: Ports, tmp_path: Path
) -> Callable[..., Runner]:
    def build(actor: str = "alice@test", p: Ports | None = None, pl: Plan | None = None) -> Runner:
        ctx = StepContext(
            plan=pl or plan, ports=p or ports, actor=actor, drills=StoreDrillLog(store, actor)
        )
        return Runner(store=store, ctx=ctx, graph=default_graph(), reports_dir=tmp_path / "reports")

    return build


@pytest.fixture
def runner(make_runner: Callable[..., Runner]) -> Runner:
    return make_runner()


@pytest.fixture
def sql_modes(store: StateStore) -> SqlModeStore:
    return SqlModeStore(store.engine)
