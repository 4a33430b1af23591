"""The phase-3 gate's ``event_schema_compatible`` check, judged from sampled topic records.

The contracts are the team's directory the plan names (``contracts: {dir: ...}``); a plan
naming none fails the check with that one-line reason. Pure apart from reading that
directory.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from events.errors import ContractDirectoryInvalid, ContractsNotNamed, EventsError
from events.registry import ContractRegistry, Contracts, schema_reasons
from phases.errors import PlanInvalid, PlanIssue
from phases.plan import Plan
from phases.ports import SchemaReport

Record = tuple[Mapping[str, str], bytes | None]
"""One sampled Kafka record: its headers (decoded) and its value."""
MAX_REASONS = 5
NO_CONTRACTS = "contracts: the plan names no contracts directory (contracts: {dir: ...})"


def plan_contracts(plan: Plan) -> Contracts:
    """The contracts the plan names (read and checked now); raises
    :class:`~events.errors.ContractsNotNamed` when it names none and
    :class:`~events.errors.ContractDirectoryInvalid` for a bad directory."""
    directory = plan.contracts_dir()
    if directory is None:
        raise ContractsNotNamed()
    return ContractRegistry.load(directory)


def check_plan_contracts(plan: Plan, source: str) -> None:
    """Raise :class:`PlanInvalid` (one ``contracts.dir`` issue per problem) unless the
    contracts directory the plan names is valid (``cutover plan validate``)."""
    if plan.contracts_dir() is None:
        return
    try:
        contracts = plan_contracts(plan)
    except ContractDirectoryInvalid as exc:
        issues = [PlanIssue("contracts.dir", str(p)) for p in exc.problems]
        raise PlanInvalid(source, issues) from None
    issues = unknown_event_issues(plan, contracts)
    if issues:
        raise PlanInvalid(source, issues)


def unknown_event_issues(plan: Plan, contracts: Contracts) -> list[PlanIssue]:
    """Every event a context lists that the contracts do not define."""
    known = contracts.types
    return [
        PlanIssue(
            f"contexts.{cname}.events.{i}",
            f"event {event!r} is in no contract of {contracts.source}",
        )
        for cname, ctx in plan.contexts.items()
        for i, event in enumerate(ctx.events)
        if event not in known
    ]


def judge_records(
    context: str, events: Sequence[str], records: Iterable[Record], contracts: Contracts
) -> SchemaReport:
    """Each record: a type declared for ``context`` (when the plan lists any), a JSON object,
    valid against a version of its type in ``contracts``."""
    reasons: list[str] = []
    for headers, value in records:
        kind = headers.get("type")
        if events and kind not in events:
            reasons.append(f"event type {kind!r} is not declared for {context}")
        payload = _json(value)
        if not isinstance(payload, dict):
            reasons.append(f"{kind or 'event'} payload is not a JSON object")
        elif kind:
            reasons += schema_reasons(contracts, kind, payload)
    unique = list(dict.fromkeys(reasons))[:MAX_REASONS]
    return SchemaReport(not reasons, tuple(unique))


def schema_report(
    plan: Plan, context: str, events: Sequence[str], records: Iterable[Record]
) -> SchemaReport:
    """:func:`judge_records` against the plan's contracts; no contracts directory, or one
    that cannot be used, fails the check with its one-line reason."""
    if plan.contracts_dir() is None:
        return SchemaReport(False, (NO_CONTRACTS,))
    try:
        contracts = plan_contracts(plan)
    except EventsError as exc:
        return SchemaReport(False, (f"contracts: {exc.one_line()}",))
    return judge_records(context, events, records, contracts)


def _json(value: bytes | None) -> Any:
    try:
        return json.loads(value) if value else None
    except ValueError:
        return None
