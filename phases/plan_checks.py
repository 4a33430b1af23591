"""Plan checks beyond the schema: inline secrets and cross references between sections."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from cdc.debezium import PROVIDER_REFERENCE
from cutover_common.secrets import is_sensitive_key
from phases.errors import PlanIssue

if TYPE_CHECKING:
    from phases.plan import Plan

_URL_WITH_PASSWORD = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:[^@/\s]+@")
_AUTH_VALUE = re.compile(r"^\s*(basic|bearer)\s+\S+", re.IGNORECASE)
_GATE_NAMES = ("identify", "broker", "dual_write", "async_", "remove_sync")


def _walk(value: Any, path: str) -> Iterator[tuple[str, str | None, Any]]:
    if isinstance(value, dict):
        for key, child in value.items():
            child_path = f"{path}.{key}" if path else str(key)
            yield child_path, str(key), child
            yield from _walk(child, child_path)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            child_path = f"{path}.{i}"
            yield child_path, None, child
            yield from _walk(child, child_path)


def _is_provider_reference(value: Any) -> bool:
    return isinstance(value, str) and PROVIDER_REFERENCE.match(value.strip()) is not None


def inline_secret_issues(data: dict[str, Any]) -> list[PlanIssue]:
    """Every place where the raw plan holds a secret instead of an env var reference."""
    issues: list[PlanIssue] = []
    for path, key, value in _walk(data, ""):
        if key is not None and key.endswith("password_ref"):
            if value is not None and not _is_provider_reference(value):
                issues.append(
                    PlanIssue(
                        path,
                        "not a Kafka Connect config provider reference; write one like "
                        "${env:CUTOVER_PG_PASSWORD}, never the password itself",
                    )
                )
            continue
        if key is not None and is_sensitive_key(key) and not key.endswith("_env"):
            if value not in (None, "", {}, []):
                issues.append(
                    PlanIssue(
                        path,
                        "inline secret not allowed; reference an environment variable "
                        f"instead (a {key}_env field naming it)",
                    )
                )
            continue
        if isinstance(value, str) and _URL_WITH_PASSWORD.search(value):
            issues.append(
                PlanIssue(path, "URL with an inline password; use url_env with an env var name")
            )
        elif isinstance(value, str) and _AUTH_VALUE.match(value):
            issues.append(PlanIssue(path, "inline credentials; use auth_env with an env var name"))
    return issues


def cross_reference_issues(plan: Plan) -> list[PlanIssue]:
    """Unknown contexts referenced from depends_on, gates and rollout_order; duplicate topics;
    a shadow outbox sharing the application's connector, slot or table."""
    known = set(plan.contexts)
    issues: list[PlanIssue] = []

    def check(path: str, names: list[str] | None) -> None:
        for i, name in enumerate(names or []):
            if name not in known:
                issues.append(
                    PlanIssue(
                        f"{path}.{i}",
                        f"unknown context {name!r} (defined: {', '.join(sorted(known))})",
                    )
                )

    for cname, ctx in plan.contexts.items():
        check(f"contexts.{cname}.depends_on", ctx.depends_on)
        if cname in ctx.depends_on:
            issues.append(
                PlanIssue(f"contexts.{cname}.depends_on", "a context cannot depend on itself")
            )
    for attr in _GATE_NAMES:
        gate = getattr(plan.gates, attr)
        alias = "async" if attr == "async_" else attr
        check(f"gates.{alias}.contexts", gate.contexts)
    check("rollout_order", plan.rollout_order)
    if len(set(plan.rollout_order)) != len(plan.rollout_order):
        issues.append(PlanIssue("rollout_order", "a context is listed twice"))
    issues.extend(_duplicate_topic_issues(plan))
    issues.extend(_shadow_outbox_issues(plan))
    issues.extend(_connectors_issues(plan))
    issues.extend(_canary_topic_issues(plan))
    issues.extend(threshold_issues(plan))
    issues.extend(reference_issues(plan))
    return issues


_REFERENCE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_CALLABLE_FIELDS = ("sync", "event", "verify", "async_event")


def threshold_issues(plan: Plan) -> list[PlanIssue]:
    """A gate whose ``warn_match_rate`` is above its ``min_match_rate`` (a rate below ``warn``
    fails, one below ``min`` warns: a warn above min could never warn)."""
    issues = []
    for alias, gate in (("dual_write", plan.gates.dual_write), ("async", plan.gates.async_)):
        if gate.warn_match_rate is not None and gate.warn_match_rate > gate.min_match_rate:
            issues.append(
                PlanIssue(
                    f"gates.{alias}.warn_match_rate",
                    f"{gate.warn_match_rate} is above min_match_rate {gate.min_match_rate}; "
                    "below warn fails, so warn lies at or below the passing rate",
                )
            )
    return issues


def plan_references(plan: Plan) -> list[tuple[str, str, str]]:
    """Every ``module:attribute`` reference of the plan as ``(path, kind, reference)``:
    outcome callables, normalisers, invariants (bare names too) and shadow apps."""
    refs: list[tuple[str, str, str]] = []
    for cname, ctx in plan.contexts.items():
        base = f"contexts.{cname}"
        if ctx.outcome is not None:
            for side in _CALLABLE_FIELDS:
                target = getattr(ctx.outcome, f"{side}_callable")
                if target:
                    refs.append((f"{base}.outcome.{side}_callable", "callable", target))
        for i, target in enumerate(ctx.compare.normalisers):
            refs.append((f"{base}.compare.normalisers.{i}", "normaliser", target))
        for i, target in enumerate(ctx.invariants):
            refs.append((f"{base}.invariants.{i}", "invariant", target))
        if ctx.shadow is not None:
            refs.append((f"{base}.shadow.app", "shadow app", ctx.shadow.app))
    return refs


def reference_issues(plan: Plan) -> list[PlanIssue]:
    """Offline: each reference is written ``module:attribute`` (an invariant may instead be a
    name registered with ``comparators.invariants.register``); nothing is imported here
    (``cutover plan validate --online`` imports them: :mod:`phases.plan_online`)."""
    from comparators.invariants import REGISTERED

    issues = []
    for path, kind, target in plan_references(plan):
        if kind == "invariant" and ":" not in target:
            if target not in REGISTERED:
                issues.append(
                    PlanIssue(
                        path,
                        f"unknown invariant {target!r}; name it as module:function "
                        f"(registered: {', '.join(sorted(REGISTERED)) or 'none'})",
                    )
                )
        elif not _REFERENCE.match(target):
            issues.append(PlanIssue(path, f"{kind} {target!r} is not written module:attribute"))
    return issues


def _canary_topic_issues(plan: Plan) -> list[PlanIssue]:
    """No context consumes the canary's topic: the phase-2 canary's outbox rows stay out of
    every shadow app, comparison and schema check (docs/app-sdk.md, "The canary")."""
    from phases.adapters_kafka import CANARY_AGGREGATE

    canary = f"{plan.system.kafka.topic_prefix}.{CANARY_AGGREGATE}"
    return [
        PlanIssue(
            f"contexts.{name}.topic.name",
            f"{canary} is the phase-2 canary's topic; a context's events need another",
        )
        for name, ctx in plan.contexts.items()
        if ctx.topic.name == canary
    ]


def _connectors_issues(plan: Plan) -> list[PlanIssue]:
    """``connectors.shadow_outbox`` needs the ``shadow_outbox:`` block (its table), and the
    two connectors, as built, share no name, slot, publication or topic prefix."""
    from phases.outbox_connectors import application_connector, shadow_outbox_connector

    if plan.connectors.shadow_outbox is not None and plan.shadow_outbox is None:
        return [
            PlanIssue(
                "connectors.shadow_outbox",
                "declare the shadow_outbox: block too (its table and columns)",
            )
        ]
    app, shadow = application_connector(plan), shadow_outbox_connector(plan)
    if shadow is None:
        return []
    assert plan.shadow_outbox is not None
    connect, block = plan.system.connect, plan.shadow_outbox
    reported = {  # the fields plans had before connectors: say it there already
        "name": block.connector_name == connect.connector_name,
        "slot": block.slot_name == connect.slot_name,
    }
    issues = []
    for field, attr in (
        ("name", "name"),
        ("slot", "slot_name"),
        ("publication", "publication_name"),
        ("topic_prefix", "server_prefix"),
    ):
        value = getattr(shadow, attr)
        if value == getattr(app, attr) and not reported.get(field):
            issues.append(
                PlanIssue(
                    f"connectors.shadow_outbox.{field}",
                    f"{value!r} is the application's connector's too (connectors.outbox."
                    f"{field}); the shadow outbox's connector needs its own",
                )
            )
    return issues


def _shadow_outbox_issues(plan: Plan) -> list[PlanIssue]:
    """The shadow outbox's connector and slot are its own (one connector, one slot each), and
    its table is not the application's outbox in the same database."""
    shadow = plan.shadow_outbox
    if shadow is None:
        return []
    issues: list[PlanIssue] = []
    connect = plan.system.connect
    for field, value, theirs in (
        ("connector_name", shadow.connector_name, connect.connector_name),
        ("slot_name", shadow.slot_name, connect.slot_name),
    ):
        if value == theirs:
            issues.append(
                PlanIssue(
                    f"shadow_outbox.{field}",
                    f"{value!r} is the application's too (system.connect.{field}); "
                    "the shadow outbox needs its own",
                )
            )
    database = shadow.database or plan.system.database
    same_database = database.url_env == plan.system.database.url_env
    if same_database and shadow.layout().table == plan.outbox.layout().table:
        issues.append(
            PlanIssue(
                "shadow_outbox.table",
                f"{shadow.layout().table} is the application's outbox (outbox.table) in the "
                "same database; the shadow store's outbox is a table of its own",
            )
        )
    return issues


def _duplicate_topic_issues(plan: Plan) -> list[PlanIssue]:
    seen: dict[str, tuple[str, int, int | None]] = {}
    issues: list[PlanIssue] = []
    for cname, ctx in plan.contexts.items():
        spec = (cname, ctx.topic.partitions, ctx.topic.retention_ms)
        other = seen.setdefault(ctx.topic.name, spec)
        if other[0] != cname and other[1:] != spec[1:]:
            issues.append(
                PlanIssue(
                    f"contexts.{cname}.topic",
                    f"topic {ctx.topic.name!r} is also declared by context {other[0]!r} "
                    "with different partitions/retention",
                )
            )
    return issues
