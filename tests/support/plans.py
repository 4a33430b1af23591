"""Plans for tests of one comparison: the contexts and gates a test cares about, completed
into a valid migration plan (the one plan model, :mod:`phases.plan`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

if TYPE_CHECKING:
    from comparators.plan import CompareConfig

UNREACHABLE_KAFKA = "127.0.0.1:9"
"""Brokers nothing listens on: a plan needs them, a unit test's comparison never reads them
(its pipeline is left out, see :func:`load_config`)."""
WHOLE_HISTORY_SECONDS = 10**9
"""A gate window holding every key a test writes (the plan's default is 300 s)."""


def full_plan(text: str) -> str:
    """``text`` (YAML naming contexts with their outcome, compare rules and invariants, and
    some gate thresholds) with what a migration plan also needs: the system's Kafka and
    Connect, each context's tables and topic, every gate (windows over the whole history)."""
    data: dict[str, Any] = yaml.safe_load(text) or {}
    system = data.setdefault("system", {})
    system.setdefault("database", {"url_env": "UNUSED_DB"})
    system.setdefault("kafka", {}).setdefault("bootstrap_servers", UNREACHABLE_KAFKA)
    system.setdefault("connect", {}).setdefault("url", "http://127.0.0.1:9")
    for name, ctx in data.get("contexts", {}).items():
        ctx.setdefault("tables", [name])
        ctx.setdefault("topic", {"name": f"test.{name}"})
    gates = data.setdefault("gates", {})
    for gate in ("broker", "dual_write", "async", "remove_sync"):
        gates.setdefault(gate, {})
    for gate in ("dual_write", "async"):
        gates[gate].setdefault("window_seconds", WHOLE_HISTORY_SECONDS)
    return yaml.safe_dump(data, sort_keys=False)


def load_config(
    path: Path,
    context: str,
    gate: str = "dual_write",
    env: Mapping[str, str] | None = None,
    *,
    pipeline: bool = False,
) -> CompareConfig:
    """The comparison of ``context`` under ``gate`` from the (loose) plan file at ``path``,
    as ``cutover compare run`` resolves it; without the pipeline unless ``pipeline`` (a unit
    test reads no Kafka)."""
    from phases.compare_config import compare_config
    from phases.plan import parse_plan_text

    plan = parse_plan_text(full_plan(path.read_text()), source=str(path))
    config = compare_config(plan, context, gate=gate, env=env)
    return config if pipeline else replace(config, pipeline=None)


SAMPLE_RULES = "decimals: [total, payment.amount], unordered: [reservation.lines, notifications]"
"""The ``compare:`` rules of the sample's outcome record (as rehearsal.sources.COMPARE_RULES
states them), for a flow mapping in a test plan."""


def without_kafka_position(monkeypatch: pytest.MonkeyPatch) -> None:
    """The plan names brokers nobody runs (:data:`UNREACHABLE_KAFKA`): a unit test's comparison
    finds the pipeline position "not measured" at once, as with no broker reachable, instead
    of after the Kafka client's timeout."""
    from comparators import commands

    monkeypatch.setattr(
        commands, "read_pipeline_position", lambda _ref: (None, commands.NO_PIPELINE)
    )


@pytest.fixture
def no_kafka_position(monkeypatch: pytest.MonkeyPatch) -> None:
    """:func:`without_kafka_position` for one test."""
    without_kafka_position(monkeypatch)
