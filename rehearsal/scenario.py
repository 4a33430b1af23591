"""Rehearsal scenarios: traffic, shadow settings, faults to inject, and what must come out.

A scenario is a YAML file validated with pydantic; a bad field is reported with its
path. The bundled ones live in ``rehearsal/scenarios/`` and are referred to by name.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cutover_common.exit_codes import ExitCode
from rehearsal.errors import RehearsalError

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"


class ScenarioError(RehearsalError):
    """Raised when a scenario file is missing or invalid (``errors`` holds path: reason)."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, source: str, errors: list[str]) -> None:
        self.source = source
        self.errors = errors
        super().__init__(f"invalid scenario {source}: " + "; ".join(errors))


class FaultKind(StrEnum):
    """Faults a rehearsal can inject (each is also an integration test)."""

    KILL_SHADOW_WORKER = "kill_shadow_worker"
    RESTART_CONNECT = "restart_connect"
    RESTART_KAFKA = "restart_kafka"
    RESTART_POSTGRES = "restart_postgres"
    DOWNSTREAM_ERRORS = "downstream_errors"
    POISON_EVENTS = "poison_events"
    DUPLICATE_DELIVERIES = "duplicate_deliveries"
    OFFSET_REWIND = "offset_rewind"
    NAIVE_DUAL_CRASH = "naive_dual_crash"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Traffic(_Strict):
    """Generated load per phase."""

    rate: float = Field(default=20.0, gt=0, le=2000)
    seconds: float = Field(default=15.0, gt=0, le=3600)
    concurrency: int = Field(default=4, ge=1, le=64)
    seed: int = 42


class Fault(_Strict):
    """One fault, injected while the traffic of ``phase`` runs."""

    kind: FaultKind
    phase: Literal[3, 4, 5] = 3
    service: str = "payment"
    """The service a downstream fault acts on: one of the system's (checked when the rehearsal
    starts)."""
    error_rate: float = Field(default=0.2, ge=0, le=1)
    timeout_rate: float = Field(default=0.0, ge=0, le=1)
    count: int = Field(default=5, ge=1, le=10_000)
    crash_probability: float = Field(default=0.1, ge=0, le=1)


class ShadowSettings(_Strict):
    """How the shadow pipeline runs in the rehearsal."""

    workers: int = Field(default=2, ge=1, le=8)
    bug: Literal["total_rounding"] | None = None


class Expect(_Strict):
    """What an honest run of this scenario must produce."""

    outcome: Literal["pass", "fail"] = "pass"
    failing_phase: Literal[3, 4, 5] | None = None
    failing_key_field: str | None = None


class Scenario(_Strict):
    """A rehearsal scenario."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str = ""
    traffic: Traffic = Traffic()
    shadow: ShadowSettings = ShadowSettings()
    context: str = "order"
    faults: tuple[Fault, ...] = ()
    expect: Expect = Expect()

    def faults_in(self, phase: int) -> list[Fault]:
        return [f for f in self.faults if f.phase == phase]


def available() -> list[str]:
    """Names of the bundled scenarios."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def load_scenario(name_or_path: str) -> Scenario:
    """Load a bundled scenario by name, or a scenario file by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = SCENARIO_DIR / f"{name_or_path}.yaml"
    if not path.exists():
        raise ScenarioError(
            str(name_or_path), [f"no such file (bundled: {', '.join(available())})"]
        )
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ScenarioError(str(path), [f"not YAML: {exc}"]) from exc
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(
            str(path),
            [f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()],
        ) from exc
