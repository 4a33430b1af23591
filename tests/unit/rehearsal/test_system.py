"""A system plugs into the rehearsal through one adapter: loading it by ``--system``, and the
rehearsal driving a fake one (its plan, its shadow app, its traffic and its fault hook)."""

from __future__ import annotations

import ast
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from cutover_common.config import SHADOW_BOOTSTRAP, SHADOW_DSN
from cutover_common.exit_codes import ExitCode
from rehearsal.errors import SystemLoadError
from rehearsal.faults import POISON_LABELS, poison
from rehearsal.run import Rehearsal, RehearseOptions
from rehearsal.sample import SYSTEM as SAMPLE
from rehearsal.scenario import Fault, FaultKind, Scenario, ScenarioError, Traffic
from rehearsal.stack.topology import Topology
from rehearsal.system import System, load_system, module_of

ROOT = Path(__file__).resolve().parents[3]
DRIVERS = ("run.py", "environment.py", "faults.py", "workers.py", "cli.py", "timeline.py")


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Burst:
    sent: int
    checks: tuple[Check, ...]


@dataclass
class FakeSystem:
    """A system with one context, ``loan``, and one service, ``ledger``; records calls."""

    calls: list[tuple[str, Any]] = field(default_factory=list)
    name: str = "library"
    database_env: str = "LIBRARY_DATABASE_URL"
    shadow_app: str = "library.shadow:app"
    shadow_args: tuple[str, ...] = ("--consumer", "loans")
    contexts: tuple[str, ...] = ("loan",)
    services: tuple[str, ...] = ("ledger",)
    default_scenario: Path = Path("library-scenario.yaml")

    def topics(self, prefix: str) -> tuple[str, ...]:
        return (f"{prefix}.loan",)

    def plan_document(self, names: Any) -> dict[str, Any]:
        return {"topic": f"{names.prefix}.loan", "group": names.consumer_group}

    def start(
        self, run_dir: Path, database_url: str, names: Any, env: Mapping[str, str] | None = None
    ) -> None:
        self.calls.append(("start", dict(env or {})))

    def stop(self, run_dir: Path) -> None:
        self.calls.append(("stop", run_dir))

    def fault(
        self,
        run_dir: Path,
        database_url: str,
        names: Any,
        service: str,
        error_rate: float,
        *,
        timeout_rate: float = 0.0,
    ) -> str:
        self.calls.append(("fault", (service, error_rate)))
        return f"{service}: {error_rate:.0%}"

    def shadow_env(self, names: Any) -> dict[str, str]:
        return {"LIBRARY_LEDGER_URL": f"http://{names.host}:7001"}

    def traffic(
        self,
        names: Any,
        *,
        seed: int,
        rate: float,
        seconds: float,
        concurrency: int,
        on_sample: Callable[[Any], None] | None = None,
    ) -> Burst:
        self.calls.append(("traffic", (seed, rate, seconds)))
        return Burst(int(rate * seconds), (Check("no_errors", True, "none"),))

    def progress(self, dsn: str) -> tuple[int, int]:
        return (0, 0)


SCENARIO = Scenario(
    name="library",
    context="loan",
    traffic=Traffic(rate=10, seconds=0.2, seed=5),
    faults=(Fault(kind=FaultKind.DOWNSTREAM_ERRORS, phase=3, service="ledger", error_rate=0.3),),
)


def _rehearsal(tmp_path: Path, system: FakeSystem, scenario: Scenario = SCENARIO) -> Rehearsal:
    topology = replace(Topology(), state_dir=tmp_path)
    return Rehearsal(topology, RehearseOptions(scenario, system=system), say=lambda _l: None)


@pytest.fixture(autouse=True)
def _restore_import_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading a system puts its folder on sys.path and PYTHONPATH: restored after each test."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("PYTHONPATH", os.environ.get("PYTHONPATH", ""))


def test_no_system_is_the_sample() -> None:
    assert load_system() is SAMPLE


def test_a_directory_names_its_rehearsal_modules_system() -> None:
    assert module_of("examples/helpdesk") == "examples.helpdesk.rehearsal:SYSTEM"
    assert module_of("./examples/helpdesk/") == "examples.helpdesk.rehearsal:SYSTEM"


def test_the_helpdesk_directory_loads_its_adapter() -> None:
    system = load_system(str(ROOT / "examples" / "helpdesk"))
    assert system.name == "helpdesk" and isinstance(system, System)


def test_a_missing_directory_is_invalid_input_naming_it() -> None:
    with pytest.raises(SystemLoadError) as caught:
        load_system("examples/no_such_system")
    assert caught.value.exit_code == ExitCode.INVALID_INPUT
    assert "examples/no_such_system: no such directory" in caught.value.one_line()


def test_a_directory_without_an_adapter_module_names_the_module(tmp_path: Path) -> None:
    (tmp_path / "bare").mkdir()
    with pytest.raises(SystemLoadError, match=r"no module bare\.rehearsal"):
        load_system(str(tmp_path / "bare"))


def test_an_adapter_module_without_system_says_so(tmp_path: Path) -> None:
    (tmp_path / "nosys").mkdir()
    (tmp_path / "nosys" / "rehearsal.py").write_text("OTHER = 1\n")
    with pytest.raises(SystemLoadError, match=r"nosys\.rehearsal defines no SYSTEM"):
        load_system(str(tmp_path / "nosys"))


def test_an_object_lacking_the_interface_names_what_it_lacks(tmp_path: Path) -> None:
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "rehearsal.py").write_text("class S:\n    name = 'x'\nSYSTEM = S()\n")
    with pytest.raises(SystemLoadError, match=r"lacks database_env, .*traffic, progress"):
        load_system(str(tmp_path / "half"))


def test_the_plan_is_the_systems_template_with_the_runs_names(tmp_path: Path) -> None:
    rehearsal = _rehearsal(tmp_path, FakeSystem())
    prefix = rehearsal.env.prefix
    assert rehearsal.env.plan_document() == {"topic": f"{prefix}.loan", "group": f"{prefix}.shadow"}
    assert rehearsal.env.environ().keys() == {"LIBRARY_DATABASE_URL"}


def test_the_shadow_workers_run_the_systems_app_on_its_topics_with_its_env(
    tmp_path: Path,
) -> None:
    env = _rehearsal(tmp_path, FakeSystem()).env
    spec = env.workers.spec
    argv = spec.argv()
    assert argv[argv.index("run") :] == [
        "run", "--app", "library.shadow:app", "--consumer", "loans", "--workers", "1",
    ]  # fmt: skip
    assert argv[argv.index("--topic") + 1].endswith(".loan")
    assert spec.env["LIBRARY_LEDGER_URL"] == "http://127.0.0.1:7001"
    # the stack named explicitly, as a team names its own: `cutover shadow` knows no stack
    assert spec.env[SHADOW_BOOTSTRAP.name] == env.endpoints.bootstrap_servers
    assert spec.env[SHADOW_DSN.name] == env.endpoints.dsn(env.database)


def test_a_burst_plays_the_systems_traffic_and_faults_its_service_then_clears_it(
    tmp_path: Path,
) -> None:
    system = FakeSystem()
    rehearsal = _rehearsal(tmp_path, system)

    rehearsal.traffic_burst(3)

    assert system.calls == [
        ("traffic", (5, 10.0, 0.2)),
        ("fault", ("ledger", 0.3)),
        ("fault", ("ledger", 0.0)),
    ]
    row = rehearsal.rows[3]
    assert row.orders_sent == 2 and [f.kind for f in row.faults] == ["downstream_errors"]
    assert row.traffic_checks == [{"name": "no_errors", "verdict": "pass", "detail": "none"}]


def test_a_scenario_naming_anothers_context_or_service_is_refused(tmp_path: Path) -> None:
    scenario = SCENARIO.model_copy(
        update={
            "context": "order",
            "faults": (Fault(kind=FaultKind.DOWNSTREAM_ERRORS, service="payment"),),
        }
    )
    with pytest.raises(ScenarioError) as caught:
        _rehearsal(tmp_path, FakeSystem(), scenario)
    assert caught.value.errors == [
        "context: 'order' is not a context of library (has: loan)",
        "faults.0.service: 'payment' is not a service of library (has: ledger)",
    ]


def test_the_rehearsals_drivers_name_no_system() -> None:
    """No ``legacy_app`` import, no sample module, no ``system ==`` in the modules that drive
    a rehearsal: the adapter is all they know."""
    for name in DRIVERS:
        source = (ROOT / "rehearsal" / name).read_text()
        imported = [
            n.module or "" for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ImportFrom)
        ] + [
            a.name
            for n in ast.walk(ast.parse(source))
            if isinstance(n, ast.Import)
            for a in n.names
        ]
        assert not [m for m in imported if m.startswith(("legacy_app", "rehearsal.sample"))], name
        assert "system ==" not in source and "system.name ==" not in source, name


def test_poison_messages_carry_the_systems_event_type_or_one_no_contract_knows() -> None:
    types = {label: dict(poison(label, "loan.opened")[1])["type"] for label in POISON_LABELS}
    assert types == {
        "undecodable": b"loan.opened",
        "unknown_type": b"cutover.poison.teleported",
        "schema_invalid": b"loan.opened",
    }
