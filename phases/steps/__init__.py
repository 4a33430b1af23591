"""The five phases as versioned steps (revision / down_revision), alembic style.

Each module defines ``revision``, ``down_revision``, ``name``, ``gate_name`` and the
functions ``precheck``, ``forward``, ``backward`` and ``gate``, all taking the
:class:`~phases.context.StepContext` and the contexts they act on.
"""

from __future__ import annotations

from types import ModuleType

from phases.context import StepContext
from phases.graph import Step, StepGraph
from phases.steps import (
    phase1_identify,
    phase2_broker,
    phase3_dual_write,
    phase4_async,
    phase5_remove_sync,
)

MODULES: tuple[ModuleType, ...] = (
    phase1_identify,
    phase2_broker,
    phase3_dual_write,
    phase4_async,
    phase5_remove_sync,
)


def step_from_module(module: ModuleType) -> Step[StepContext]:
    return Step(
        revision=module.revision,
        down_revision=module.down_revision,
        name=module.name,
        gate_name=module.gate_name,
        forward=module.forward,
        backward=module.backward,
        precheck=module.precheck,
        gate=module.gate,
    )


def default_graph() -> StepGraph[StepContext]:
    """The five phases of the migration path."""
    return StepGraph(step_from_module(m) for m in MODULES)
