"""From the plan to the comparators' configuration: one pure function, one plan model.

:func:`compare_config` turns a validated :class:`~phases.plan.Plan` (the one plan model; the
comparators parse no plan of their own) and a context into the
:class:`~comparators.plan.CompareConfig` of one comparison: its control and candidate
sources, rules, invariants, verdict policy, scope and the pipeline whose position tells
pending from missing. Nothing is read here but the environment mapping it is given (the
database URLs the plan names by variable); sources open their connections when they run.

Every rule comes from the plan. No default names a field of any system: ``decimals``,
``unordered``, ``ignore`` and ``invariants`` are empty unless the plan lists them, the key
is the plan's ``outcome.key`` (required), and the event a repair emits is the context's
first event. ``candidate="verify"`` is phase 4's reverse comparison: the event path
(``async_event_*``, else ``event_*``) is the control, the verify runs the candidate.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from phases.outbox_connectors import application_connector
from phases.plan import CompareRules, ContextSpec, DatabaseRef, OutcomeSpec, Plan

if TYPE_CHECKING:
    from comparators.plan import CompareConfig, PipelineRef
    from comparators.rules import CompareOptions
    from comparators.sources import OutcomeSource

Candidate = Literal["event", "verify"]
GATE_FOR: dict[str, str] = {"event": "dual_write", "verify": "async"}
"""The gate whose thresholds and scope judge each kind of comparison."""


def compare_config(
    plan: Plan,
    context: str,
    *,
    candidate: Candidate = "event",
    gate: str | None = None,
    env: Mapping[str, str] | None = None,
    window: timedelta | None = None,
    since: datetime | None = None,
    min_settled_keys: int | None = None,
) -> CompareConfig:
    """The comparison of ``context`` (control: the sync side) against ``candidate``, judged
    by its gate (``gate``, else :data:`GATE_FOR`). ``window`` defaults to the gate's ``window_seconds``;
    ``min_settled_keys`` overrides the gate's. Raises :class:`comparators.errors.PlanError`
    for a context the plan lacks or an outcome source it does not name, and
    :class:`cutover_common.errors.EnvironmentVariableMissing` for a database variable that
    is not set."""
    from comparators.errors import PlanError
    from comparators.invariants import SqlInvariant
    from comparators.plan import NO_PIPELINE_GATES, SCOPE_MODES, CompareConfig
    from comparators.plan import policy_from as policy_of

    if context not in plan.contexts:
        have = ", ".join(sorted(plan.contexts))
        raise PlanError(context, f"not in the plan (have: {have})")
    ctx = plan.contexts[context]
    if ctx.outcome is None:
        raise PlanError(context, "the plan names no outcome sources (outcome:)")
    environ = dict(os.environ if env is None else env)
    gate_name = gate or GATE_FOR[candidate]
    thresholds = _gate(plan, gate_name)
    if min_settled_keys is not None:
        thresholds["min_settled_keys"] = min_settled_keys
    control, second = _sides(plan, context, ctx.outcome, ctx.compare, candidate, environ)
    gate_window = thresholds.get("window_seconds")
    return CompareConfig(
        context=context,
        control=control,
        candidate=second,
        options=options_from(ctx.compare, ctx.outcome.key),
        invariants=tuple(ctx.invariants),
        sql_invariants=tuple(SqlInvariant(i.name, i.sql) for i in ctx.sql_invariants),
        same_database=ctx.compare.same_database,
        policy=policy_of(thresholds),
        event_type=ctx.events[0] if ctx.events else None,
        plan_hash=f"sha256:{plan.digest()}",
        window=window if window is not None else _seconds(gate_window),
        since=since,
        modes=SCOPE_MODES.get(gate_name),
        pipeline=None if gate_name in NO_PIPELINE_GATES else pipeline_from(plan, ctx, environ),
    )


def options_from(rules: CompareRules, key: str) -> CompareOptions:
    """The plan's ``compare:`` rules as comparators options (``produced_at`` and ``source``
    are never compared: every outcome record carries them)."""
    from comparators.plan import DEFAULT_IGNORE
    from comparators.rules import CompareOptions, Tolerance, TruncateTimestamps, load_normaliser

    by_unit: dict[str, list[str]] = {}
    for path, unit in rules.truncate.items():
        by_unit.setdefault(unit, []).append(path)
    return CompareOptions(
        key=key,
        ignore=tuple(dict.fromkeys((*DEFAULT_IGNORE, *rules.ignore))),
        decimals=tuple(rules.decimals),
        tolerances=tuple(Tolerance(p, Decimal(str(t))) for p, t in rules.tolerance.items()),
        truncate=tuple(TruncateTimestamps(tuple(ps), unit) for unit, ps in by_unit.items()),
        case_insensitive=tuple(rules.case_insensitive),
        unordered=tuple(rules.unordered),
        normalisers=tuple(load_normaliser(n) for n in rules.normalisers),
        settle=timedelta(seconds=rules.settle_seconds),
        sample_limit=rules.sample_limit,
        explain_limit=rules.explain_limit,
        mode_field=rules.mode_column,
        inconclusive_field=rules.inconclusive_column,
    )


def pipeline_from(plan: Plan, ctx: ContextSpec, env: Mapping[str, str]) -> PipelineRef:
    """The context's shadow group on its topic (SASL ``user:password`` from
    ``system.kafka.auth_env`` when set), and the heartbeat topic of the plan's connector."""
    from cdc.debezium import HEARTBEAT_TABLE
    from comparators.plan import DEFAULT_GROUP, PipelineRef

    kafka = plan.system.kafka
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
    heartbeat = f"{application_connector(plan).server_prefix}.{HEARTBEAT_TABLE}"
    group = ctx.consumer_group or DEFAULT_GROUP
    return PipelineRef(ctx.topic.name, group, conf, heartbeat_topic=heartbeat)


def _gate(plan: Plan, name: str) -> dict[str, Any]:
    gates = plan.gates.model_dump(by_alias=True)
    return dict(gates.get(name) or {})


def _seconds(value: Any) -> timedelta | None:
    return timedelta(seconds=float(value)) if value else None


def _sides(  # noqa: PLR0917
    plan: Plan,
    context: str,
    spec: OutcomeSpec,
    rules: CompareRules,
    candidate: Candidate,
    env: Mapping[str, str],
) -> tuple[OutcomeSource, OutcomeSource]:
    def side(field: str, name: str) -> OutcomeSource | None:
        return _source(plan, context, spec, rules, field, name, env)

    if candidate == "event":
        control, event = side("sync", "sync"), side("event", "event")
        if control is None or event is None:
            raise _missing(context, "sync" if control is None else "event")
        return control, event
    # Phase 4: the event path is authoritative (control); the sync calls ran in verify mode
    # (dry run) and their would-be outcomes are the candidate (reverse comparison).
    verify = side("verify", "verify")
    if verify is None:
        raise _missing(context, "verify")
    control = side("async_event", "event") or side("event", "event")
    if control is None:
        raise _missing(context, "event")
    return control, verify


def _missing(context: str, field: str) -> Exception:
    from comparators.errors import PlanError

    return PlanError(context, f"outcome needs {field}_query or {field}_callable")


def _source(  # noqa: PLR0917
    plan: Plan,
    context: str,
    spec: OutcomeSpec,
    rules: CompareRules,
    field: str,
    name: str,
    env: Mapping[str, str],
) -> OutcomeSource | None:
    """The plan's ``<field>_callable`` or ``<field>_query`` source named ``name`` (an SQL
    source reads ``<field>_database``, else the system database), or ``None``."""
    from comparators.sources import CallableSource, SqlSource

    columns: dict[str, Any] = {
        "key": spec.key,
        "mode_column": rules.mode_column,
        "inconclusive_column": rules.inconclusive_column,
    }
    target = getattr(spec, f"{field}_callable")
    if target:
        label = f"{field}:{target}" if field in ("sync", "event") else name
        return CallableSource(target, name=label, **columns)
    query = getattr(spec, f"{field}_query")
    if not query:
        return None
    db: DatabaseRef = getattr(spec, f"{name}_database") or plan.system.database
    return SqlSource(_url(context, db, env), query, name=name, **columns)


def _url(context: str, ref: DatabaseRef, env: Mapping[str, str]) -> str:
    from cutover_common.errors import EnvironmentVariableMissing

    if ref.url_env not in env:
        raise EnvironmentVariableMissing(ref.url_env, named_by=f"contexts.{context}.outcome")
    return env[ref.url_env]
