"""The comparators' configuration of one comparison: plain values, no plan parsing.

The plan has one model, :class:`phases.plan.Plan`; :func:`phases.compare_config.compare_config`
is the pure function from a plan context to the :class:`CompareConfig` here (its sources,
rules, invariants, verdict policy, scope and pipeline). No default here names a field of
any system: what is compared, how, and under which key is the plan's.

``compare.mode_column`` names the outcome column holding the mode each key was written in;
it is never compared. Which modes a comparison covers follows from the gate
(:data:`SCOPE_MODES`): ``dual_write`` judges keys written in ``dual`` or ``naive-dual``,
``async`` (the reverse comparison) keys written in ``async``; others are ``out_of_scope``. A
key whose records do not name a mode is always judged. ``compare.inconclusive_column`` names
the outcome column flagging a record that shows no decision (a verify run a downstream gave no
answer): such a key is left out as ``inconclusive``, never compared, and counts toward the
gate's left-out share.

With the context's topic and the shadow group (:class:`PipelineRef`) the comparison reads
where the group stands, and how far the connector captured (the newest heartbeat on
``<connector name>.public.debezium_heartbeat``), and tells pending from missing and expired
by them (not under the ``async`` gate, whose candidate is the verify runs, see
:data:`NO_PIPELINE_GATES`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from comparators.diff import ASYNC_MODES, DUAL_WRITE_MODES
from comparators.errors import PlanError
from comparators.invariants import SqlInvariant
from comparators.kafka_partitioner import STRING_KEYS, KeyFormat
from comparators.rules import CompareOptions
from comparators.sources import OutcomeSource
from comparators.verdict import VerdictPolicy

DEFAULT_IGNORE = ("produced_at", "source")
DEFAULT_GROUP = "cutover.shadow"  # shadow.config.ShadowConfig.group_id
SCOPE_MODES: dict[str, frozenset[str]] = {"dual_write": DUAL_WRITE_MODES, "async": ASYNC_MODES}
"""The write-time modes each gate's comparison covers (other gates: every key)."""
NO_PIPELINE_GATES = frozenset({"async"})
"""Gates whose candidate is not the shadow group's consumption (phase 4 compares the event
outcomes with verify runs): the group's position says nothing about their absent keys."""


@dataclass(frozen=True, slots=True)
class PipelineRef:
    """Where the shadow pipeline of a context reads: the group on the topic, and the Kafka
    client config to read its position with (``conf`` may hold SASL credentials: never
    logged)."""

    topic: str
    group: str
    conf: dict[str, Any] = field(repr=False, compare=False)
    key_format: KeyFormat = STRING_KEYS
    heartbeat_topic: str | None = None
    """The connector's heartbeat table topic (how far it captured), when it has one."""


@dataclass(frozen=True, slots=True)
class CompareConfig:
    """Everything a comparison run of one context needs, resolved from the plan."""

    context: str
    control: OutcomeSource
    candidate: OutcomeSource
    options: CompareOptions
    invariants: tuple[str, ...] = ()
    sql_invariants: tuple[SqlInvariant, ...] = ()
    """Invariants given as SQL predicates (evaluated in the one-join pass)."""
    same_database: bool | None = None
    """Both outcome queries run on one database (one join compares them): ``None`` tells by
    their connection strings (host, port, database), ``False`` never joins."""
    policy: VerdictPolicy = field(default_factory=VerdictPolicy)
    event_type: str | None = None
    """The event a repair emits for a missing key (the context's first event); ``None``: the
    plan lists none, and a repair must be told (``--event-type``)."""
    plan_hash: str | None = None
    window: timedelta | None = None
    """Judge only the keys produced in the last ``window`` (the gate's ``window_seconds``);
    ``None``: every key on record."""
    since: datetime | None = None
    """Judge no key produced before this (the time the context entered its current mode: a
    gate's window starts there when that is later than ``window`` ago); ``None``: the window
    alone."""
    modes: frozenset[str] | None = None
    """Write-time modes in scope (``None``: every key)."""
    pipeline: PipelineRef | None = None
    """The shadow group and topic whose position tells pending from missing/expired."""


def policy_from(gate: dict[str, Any]) -> VerdictPolicy:
    """The verdict policy of a plan gate. A gate that sets ``min_match_rate`` but no
    ``warn_match_rate`` has no warn band (warn threshold = min), never a warn threshold
    above its own minimum."""
    known = set(VerdictPolicy.__dataclass_fields__)
    values = {k: v for k, v in gate.items() if k in known and v is not None}
    if "min_match_rate" in values and "warn_match_rate" not in values:
        values["warn_match_rate"] = min(values["min_match_rate"], VerdictPolicy().warn_match_rate)
    return VerdictPolicy(**values)


def window_from(gate: dict[str, Any]) -> timedelta | None:
    """The gate's ``window_seconds`` as a look-back window (absent or 0: no window)."""
    seconds = gate.get("window_seconds")
    if seconds is None:
        return None
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        raise PlanError("gates", f"window_seconds {seconds!r} is not a number") from None
    if value < 0:
        raise PlanError("gates", f"window_seconds {seconds!r} is negative")
    return timedelta(seconds=value) if value else None
