"""The comparison part of the migration plan (an edge: pydantic models, then plain values).

``phases`` owns the whole plan schema; this module reads only what the
comparators need for one context, tolerating everything else::

    system:   {database: {url_env: LEGACY_DATABASE_URL}}
    contexts:
      order:
        events: [order.created]
        outcome: {sync_query: "...", event_query: "...", key: order_id,
                  event_database: {url_env: SHADOW_DATABASE_URL}}
                  # or sync_callable / event_callable: "module:function"
        compare: {ignore: [produced_at], tolerance: {total: 0.005}, settle_seconds: 5,
                  truncate: {produced_at: second},
                  case_insensitive: [notifications.recipient],
                  normalisers: ["pkg.mod:Normaliser"],
                  mode_column: write_mode, inconclusive_column: inconclusive}
        invariants: [payment_captured_once, payment_equals_total]
        topic: {name: outbox.event.order}       # read with consumer_group for the position
        consumer_group: cutover.shadow
    gates:
      dual_write: {min_settled_keys: 1000, min_match_rate: 0.999, ...}

``compare.mode_column`` names the outcome column holding the mode each key was written in
(the outbox row's mode for a team's system, ``orders.mode`` in the sample); it is never
compared. Which modes a comparison covers follows from the gate (:data:`SCOPE_MODES`):
``dual_write`` judges keys written in ``dual`` or ``naive-dual``, ``async`` (the reverse
comparison) keys written in ``async``; others are ``out_of_scope``. A key whose records do
not name a mode is always judged. ``compare.inconclusive_column`` names the outcome column
flagging a record that shows no decision (a verify run a downstream gave no answer): such a
key is left out as ``inconclusive``, never compared, and counts toward the gate's left-out
share.

With ``system.kafka.bootstrap_servers`` and the context's ``topic.name`` the comparison
reads where the shadow group stands on the topic (:class:`PipelineRef`), and how far the
connector captured (the newest heartbeat on ``<system.connect.connector_name>.
public.debezium_heartbeat``), and tells pending from missing and expired by them (not under the ``async`` gate, whose candidate is the verify
runs, see :data:`NO_PIPELINE_GATES`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from cdc.debezium import HEARTBEAT_TABLE
from comparators.diff import (
    ASYNC_MODES,
    DEFAULT_INCONCLUSIVE_FIELD,
    DEFAULT_MODE_FIELD,
    DUAL_WRITE_MODES,
)
from comparators.errors import PlanError
from comparators.kafka_partitioner import STRING_KEYS, KeyFormat
from comparators.report import plan_hash
from comparators.rules import CompareOptions, Tolerance, TruncateTimestamps, load_normaliser
from comparators.sources import CallableSource, OutcomeSource, SqlSource
from comparators.verdict import VerdictPolicy

DEFAULT_IGNORE = ("produced_at", "source")
DEFAULT_GROUP = "cutover.shadow"  # shadow.config.ShadowConfig.group_id
SCOPE_MODES: dict[str, frozenset[str]] = {"dual_write": DUAL_WRITE_MODES, "async": ASYNC_MODES}
"""The write-time modes each gate's comparison covers (other gates: every key)."""
NO_PIPELINE_GATES = frozenset({"async"})
"""Gates whose candidate is not the shadow group's consumption (phase 4 compares the event
outcomes with verify runs): the group's position says nothing about their absent keys."""


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class DatabaseRef(_Loose):
    url_env: str | None = None


class OutcomeSpec(_Loose):
    key: str = "order_id"
    sync_query: str | None = None
    event_query: str | None = None
    sync_callable: str | None = None
    event_callable: str | None = None
    sync_database: DatabaseRef | None = None
    event_database: DatabaseRef | None = None


class CompareSpec(_Loose):
    ignore: list[str] = []
    decimals: list[str] = ["total", "payment.amount"]
    tolerance: dict[str, Decimal] = {}
    truncate: dict[str, str] = {}
    case_insensitive: list[str] = []
    unordered: list[str] = ["reservation.lines", "notifications"]
    normalisers: list[str] = []
    settle_seconds: float = 5.0
    sample_limit: int = 20
    mode_column: str = DEFAULT_MODE_FIELD
    inconclusive_column: str = DEFAULT_INCONCLUSIVE_FIELD


class TopicRef(_Loose):
    name: str | None = None


class ContextSpec(_Loose):
    events: list[str] = []
    outcome: OutcomeSpec = OutcomeSpec()
    compare: CompareSpec = CompareSpec()
    invariants: list[str] = []
    topic: TopicRef = TopicRef()
    consumer_group: str | None = None


class KafkaRef(_Loose):
    bootstrap_servers: str | None = None
    auth_env: str | None = None


class ConnectRef(_Loose):
    connector_name: str = "cutover-outbox"


class SystemSpec(_Loose):
    database: DatabaseRef = DatabaseRef()
    kafka: KafkaRef = KafkaRef()
    connect: ConnectRef = ConnectRef()


class PlanSpec(_Loose):
    system: SystemSpec = SystemSpec()
    contexts: dict[str, ContextSpec] = {}
    gates: dict[str, dict[str, Any]] = {}


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
    policy: VerdictPolicy = field(default_factory=VerdictPolicy)
    event_type: str = "order.created"
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


def options_from(spec: CompareSpec, key: str) -> CompareOptions:
    by_unit: dict[str, list[str]] = {}
    for path, unit in spec.truncate.items():
        by_unit.setdefault(unit, []).append(path)
    return CompareOptions(
        key=key,
        ignore=tuple(dict.fromkeys((*DEFAULT_IGNORE, *spec.ignore))),
        decimals=tuple(spec.decimals),
        tolerances=tuple(Tolerance(p, Decimal(str(t))) for p, t in spec.tolerance.items()),
        truncate=tuple(TruncateTimestamps(tuple(ps), unit) for unit, ps in by_unit.items()),
        case_insensitive=tuple(spec.case_insensitive),
        unordered=tuple(spec.unordered),
        normalisers=tuple(load_normaliser(n) for n in spec.normalisers),
        settle=timedelta(seconds=spec.settle_seconds),
        sample_limit=spec.sample_limit,
        mode_field=spec.mode_column or None,
        inconclusive_field=spec.inconclusive_column or None,
    )


def policy_from(gate: dict[str, Any]) -> VerdictPolicy:
    """The verdict policy of a plan gate. A gate that sets ``min_match_rate`` but no
    ``warn_match_rate`` has no warn band (warn threshold = min), never a warn threshold
    above its own minimum."""
    known = set(VerdictPolicy.__dataclass_fields__)
    values = {k: v for k, v in gate.items() if k in known and v is not None}
    if "min_match_rate" in values and "warn_match_rate" not in values:
        values["warn_match_rate"] = min(values["min_match_rate"], VerdictPolicy().warn_match_rate)
    return VerdictPolicy(**values)


def _url(context: str, ref: DatabaseRef | None, fallback: DatabaseRef, env: dict[str, str]) -> str:
    name = (ref or fallback).url_env
    if not name:
        raise PlanError(context, "no database url_env for an SQL outcome source")
    if name not in env:
        raise PlanError(context, f"environment variable {name} is not set")
    return env[name]


def _source(  # noqa: PLR0917
    context: str,
    side: str,
    spec: OutcomeSpec,
    system: SystemSpec,
    env: dict[str, str],
    mode_column: str = DEFAULT_MODE_FIELD,
    inconclusive_column: str = DEFAULT_INCONCLUSIVE_FIELD,
) -> OutcomeSource:
    query = spec.sync_query if side == "sync" else spec.event_query
    target = spec.sync_callable if side == "sync" else spec.event_callable
    db = spec.sync_database if side == "sync" else spec.event_database
    columns: dict[str, Any] = {
        "mode_column": mode_column or None,
        "inconclusive_column": inconclusive_column or None,
    }
    if target:
        return CallableSource(target, name=f"{side}:{target}", key=spec.key, **columns)
    if query:
        url = _url(context, db, system.database, env)
        return SqlSource(url, query, name=side, key=spec.key, **columns)
    raise PlanError(context, f"outcome needs {side}_query or {side}_callable")


def load_config(
    path: Path, context: str, gate: str = "dual_write", env: dict[str, str] | None = None
) -> CompareConfig:
    """Read the plan file and resolve the comparison of ``context`` under ``gate``."""
    raw = path.read_bytes()
    try:
        plan = PlanSpec.model_validate(yaml.safe_load(raw) or {})
    except (ValidationError, yaml.YAMLError) as exc:
        summary = " ".join(str(exc).split())[:300]
        raise PlanError(context, f"invalid plan {path}: {summary}") from exc
    if context not in plan.contexts:
        raise PlanError(context, f"not in the plan (have: {', '.join(sorted(plan.contexts))})")
    ctx = plan.contexts[context]
    environ = dict(os.environ if env is None else env)
    cols = (ctx.compare.mode_column, ctx.compare.inconclusive_column)
    return CompareConfig(
        context=context,
        control=_source(context, "sync", ctx.outcome, plan.system, environ, *cols),
        candidate=_source(context, "event", ctx.outcome, plan.system, environ, *cols),
        options=options_from(ctx.compare, ctx.outcome.key),
        invariants=tuple(ctx.invariants),
        policy=policy_from(plan.gates.get(gate, {})),
        event_type=ctx.events[0] if ctx.events else "order.created",
        plan_hash=plan_hash(raw),
        window=window_from(plan.gates.get(gate, {})),
        modes=SCOPE_MODES.get(gate),
        pipeline=None if gate in NO_PIPELINE_GATES else pipeline_from(plan.system, ctx, environ),
    )


def pipeline_from(system: SystemSpec, ctx: ContextSpec, env: dict[str, str]) -> PipelineRef | None:
    """The context's shadow group on its topic, when the plan names both the brokers and the
    topic (SASL ``user:password`` from ``kafka.auth_env`` when set), and the heartbeat topic
    of the plan's connector (its name is the connector's topic prefix)."""
    kafka = system.kafka
    if not (kafka.bootstrap_servers and ctx.topic.name):
        return None
    conf: dict[str, Any] = {"bootstrap.servers": kafka.bootstrap_servers}
    if kafka.auth_env and env.get(kafka.auth_env):
        user, _, password = env[kafka.auth_env].partition(":")
        conf.update(
            {
                "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanism": "PLAIN",
                "sasl.username": user,
                "sasl.password": password,
            }
        )
    heartbeat = f"{system.connect.connector_name}.{HEARTBEAT_TABLE}"
    group = ctx.consumer_group or DEFAULT_GROUP
    return PipelineRef(ctx.topic.name, group, conf, heartbeat_topic=heartbeat)


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
