"""The ``cutover`` phase commands as plain documented functions (alembic's ``command.py``).

Each takes a :class:`CommandConfig` (plan path, state store URL, reports dir, actor,
an injectable ``stdout`` and ports factory) and returns the process exit code, a row of
:class:`cutover_common.exit_codes.ExitCode`: 0 pass, 2 invalid plan, 3 warn, 4 fail,
5 low-confidence, 6 inconclusive; other errors are raised with their own code.
The click layer in :mod:`phases.cli_commands` only parses options and calls these.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import sqlalchemy.exc
from rich.console import Console
from rich.table import Table

from cutover.state.init import require_initialised
from cutover.state.naming import ALL_GROUPS
from cutover_common import cli as cutover_cli
from cutover_common.cli import echo_json
from cutover_common.errors import EnvironmentVariableMissing
from phases.context import StepContext
from phases.errors import PlanInvalid, StoreUnreachable
from phases.instances import WaitOptions, await_transition
from phases.plan import Plan, load_plan, plan_json_schema
from phases.ports import Ports
from phases.runner import Runner, StoreDrillLog, TransitionOutcome
from phases.steps import default_graph
from phases.store import SqlModeStore, StateStore, default_actor, make_engine

PortsFactory = Callable[[Plan, SqlModeStore], Ports]
DEFAULT_PLAN = cutover_cli.DEFAULT_PLAN


def _stdout() -> TextIO:
    return sys.stdout


@dataclass
class CommandConfig:
    """What every command needs; tests build one with a StringIO ``stdout`` and fake ports."""

    plan_path: Path = Path(DEFAULT_PLAN)
    state_url: str | None = None
    reports_dir: Path | None = None
    actor: str = field(default_factory=default_actor)
    json: bool = False
    stdout: TextIO = field(default_factory=_stdout)
    ports_factory: PortsFactory | None = None
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    check_online: bool = False
    """``advance`` first runs ``plan validate --online``'s checks (the CLI's default;
    ``--no-check-online`` skips them)."""

    def console(self) -> Console:
        return Console(file=self.stdout, width=120, soft_wrap=True, highlight=False)

    def emit(self, data: Any) -> None:
        echo_json(data, stream=self.stdout)


def _env_url(config: CommandConfig, name: str) -> str:
    value = config.environ.get(name)
    if not value:
        raise EnvironmentVariableMissing(name, hint="export it (a URL)")
    return value


def state_url(config: CommandConfig, plan: Plan) -> str:
    """--state-url, else $CUTOVER_STATE_URL, else the plan's state_url_env, else the legacy DB."""
    if config.state_url:
        return config.state_url
    if config.environ.get("CUTOVER_STATE_URL"):
        return config.environ["CUTOVER_STATE_URL"]
    return _env_url(config, plan.system.state_url_env or plan.system.database.url_env)


def open_stores(config: CommandConfig, plan: Plan) -> tuple[StateStore, SqlModeStore]:
    """The state store and the mode table, both refused (:class:`StateNotInitialised`, exit
    14) unless ``cutover init`` ran on their databases; creates nothing."""
    schema = plan.system.state_schema
    app_url = _env_url(config, plan.system.database.url_env)
    url = state_url(config, plan)
    together = url == app_url
    store = StateStore(
        make_engine(url), schema=schema, groups=ALL_GROUPS if together else ("state",)
    )
    try:
        store.require_initialised()
        modes = SqlModeStore(store.engine if together else make_engine(app_url), schema=schema)
        if not together:
            require_initialised(modes.engine, schema=schema, groups=("app",))
    except sqlalchemy.exc.OperationalError as exc:  # the first touch of a database
        raise StoreUnreachable(str(exc.orig or exc).strip().splitlines()[0]) from exc
    return store, modes


def build_runner(config: CommandConfig, *, say: Callable[[str], None] | None = None) -> Runner:
    """Load the plan, open the state store and the mode table, wire ports and steps."""
    plan = load_plan(config.plan_path)
    store, modes = open_stores(config, plan)
    reports = config.reports_dir or Path(plan.reports_dir)
    factory = config.ports_factory
    if factory is None:
        from phases.adapters import build_ports
        from phases.dlq_acks import AuditAckLog

        def factory(p: Plan, m: SqlModeStore) -> Ports:
            acks = AuditAckLog(store, config.actor)
            return build_ports(p, m, config.environ, reports_dir=reports, dlq_acks=acks)

    ctx = StepContext(
        plan=plan,
        ports=factory(plan, modes),
        actor=config.actor,
        drills=StoreDrillLog(store, config.actor),
        say=say or (lambda _line: None),
    )
    return Runner(store=store, ctx=ctx, graph=default_graph(), reports_dir=reports)


def _say(config: CommandConfig) -> Callable[[str], None]:
    if config.json:
        return lambda _line: None
    console = config.console()
    return lambda line: console.print(f"  {line}")


# -- plan -----------------------------------------------------------------------------------
def plan_validate(config: CommandConfig, path: Path, *, online: bool = False) -> int:
    """Validate a plan file (and the contracts directory it names): exit 0 when valid, 2 with
    one ``path: reason`` line per issue. ``online``: also check it against the databases and
    Kafka Connect it names (:mod:`phases.plan_online`)."""
    from phases.event_schemas import check_plan_contracts

    try:
        plan = load_plan(path)
        check_plan_contracts(plan, str(path))
        if online:
            from phases.plan_online import check_online

            issues = check_online(plan, config.environ)
            if issues:
                raise PlanInvalid(str(path), issues)
    except PlanInvalid as exc:
        if config.json:
            config.emit(
                {
                    "valid": False,
                    "file": str(path),
                    "errors": [{"path": i.path, "message": i.message} for i in exc.issues],
                }
            )
        else:
            for issue in exc.issues:
                config.stdout.write(f"{issue}\n")
        return exc.exit_code
    if config.json:
        config.emit(
            {
                "valid": True,
                "file": str(path),
                "contexts": plan.context_names(),
                "digest": plan.digest(),
            }
        )
    else:
        config.stdout.write(
            f"{path}: valid ({len(plan.contexts)} contexts: {', '.join(plan.context_names())})\n"
        )
    return 0


def plan_schema(config: CommandConfig) -> int:
    """Print the plan's JSON Schema."""
    config.stdout.write(json.dumps(plan_json_schema(), indent=2, sort_keys=True) + "\n")
    return 0


# -- state ----------------------------------------------------------------------------------
def status(config: CommandConfig) -> int:
    """Show the current phase, every context's mode and any interrupted transition."""
    runner = build_runner(config)
    state = runner.state()
    journal = runner.store.journal()
    last = runner.store.history(1)
    modes = {c: m.value for c, m in state.modes.items()}
    data: dict[str, Any] = {
        "phase": state.phase,
        "phase_name": runner.graph[state.phase].name if state.phase else "not-started",
        "modes": modes,
        "interrupted": None
        if journal is None
        else {
            "kind": journal.kind,
            "from": journal.from_phase,
            "to": journal.to_phase,
            "stage": journal.stage,
            "actor": journal.actor,
            "started_at": journal.started_at.isoformat(),
        },
        "last": last[0].to_dict() if last else None,
    }
    if config.json:
        config.emit(data)
        return 0
    console = config.console()
    console.print(f"phase [bold]{data['phase']}[/] ({data['phase_name']})")
    table = Table("context", "mode")
    for c, m in modes.items():
        table.add_row(c, m)
    console.print(table)
    if journal is not None:
        console.print(
            f"[red]interrupted {journal.kind} {journal.from_phase} -> {journal.to_phase} "
            f"at {journal.stage} by {journal.actor}[/]: run `cutover advance --resume`"
        )
    return 0


def _report(config: CommandConfig, outcome: TransitionOutcome) -> int:
    if config.json:
        config.emit(outcome.to_dict())
        return outcome.exit_code
    console = config.console()
    if outcome.plan is not None:
        p = outcome.plan
        console.print(f"{p.kind} {p.from_phase} -> {p.to_phase}: [bold]{outcome.status}[/]")
        for m in p.moves:
            gate = f" after gate {m.gate_revision}" if m.gate_revision else ""
            console.print(f"  {m.direction} {m.revision}{gate}: {', '.join(m.contexts)}")
    if outcome.gate is not None:
        console.print(f"gate {outcome.gate.gate}: [bold]{outcome.gate.verdict.value}[/]")
        for reason in outcome.gate.reasons:
            console.print(f"  - {reason}")
    if outcome.evidence is not None:
        console.print(f"evidence {outcome.evidence.path} sha256 {outcome.evidence.sha256}")
    if outcome.reverted is not None:
        console.print(f"[red]auto-reverted to phase {outcome.reverted.to_phase}[/]")
    console.print(f"phase now {outcome.phase}")
    return outcome.exit_code


def advance(
    config: CommandConfig,
    *,
    to: int | None = None,
    context: str | None = None,
    dry_run: bool = False,
    resume: bool = False,
    wait: WaitOptions | None = None,
    allow_resnapshot: bool = False,
) -> int:
    """Advance one phase (or ``to`` N, or one ``context`` to async), gated by evidence; then
    wait until every live application instance runs the new modes (``wait``, bounded:
    :class:`~phases.errors.InstancesLagging` names the laggards).

    First, before anything changes: a plan connector running on Connect whose topic prefix,
    slot or publication the plan changes is refused (:class:`cdc.errors.ResnapshotRefused`,
    exit 10) unless ``allow_resnapshot``."""
    runner = build_runner(config, say=_say(config))
    if config.check_online and config.ports_factory is None:  # the real system, first
        refuse_invalid_online(runner.ctx.plan, config)
    if not (dry_run or allow_resnapshot):
        refuse_resnapshots(runner.ctx.ports)
    outcome = runner.advance(to, context, dry_run=dry_run, resume=resume)
    code = _report(config, outcome)
    await_transition(runner, outcome, wait or WaitOptions(), say=_say(config))
    return code


def refuse_invalid_online(plan: Plan, config: CommandConfig) -> None:
    """Raise :class:`PlanInvalid` (exit 2, one ``path: reason`` per problem) unless the plan
    passes ``cutover plan validate --online``'s checks (Connect's are the resnapshot
    refusal's, which ``--allow-resnapshot`` lifts); ``cutover advance`` runs this before
    anything changes."""
    from phases.plan_online import check_online

    issues = check_online(plan, config.environ, with_connect=False)
    if issues:
        if not config.json:  # every problem, not only the error's first
            for issue in issues:
                config.stdout.write(f"{issue}\n")
        raise PlanInvalid(str(config.plan_path), issues)


def refuse_resnapshots(ports: Ports) -> None:
    """Raise :class:`cdc.errors.ResnapshotRefused` when applying a plan connector would
    publish its outbox again (``cutover advance`` checks this before it starts)."""
    from cdc.errors import ResnapshotRefused

    for admin in (ports.connector, ports.shadow_connector):
        reasons = [] if admin is None else admin.resnapshot_reasons()
        if reasons:
            raise ResnapshotRefused(getattr(admin, "name", "outbox"), reasons)


def rollback(
    config: CommandConfig,
    *,
    to: int | None = None,
    context: str | None = None,
    dry_run: bool = False,
    wait: WaitOptions | None = None,
) -> int:
    """Roll back one phase (or to ``to``), or one context from async to dual; then wait
    for the application's instances as :func:`advance` does."""
    runner = build_runner(config, say=_say(config))
    outcome = runner.rollback(to, context, dry_run=dry_run)
    code = _report(config, outcome)
    await_transition(runner, outcome, wait or WaitOptions(), say=_say(config))
    return code


def gate_check(config: CommandConfig, *, context: str | None = None) -> int:
    """Evaluate the current phase's gate, write its evidence bundle, apply the verdict policy."""
    runner = build_runner(config, say=_say(config))
    return _report(config, runner.check_gate(context))


def history(config: CommandConfig, *, limit: int = 50) -> int:
    """Print the audit trail, newest first: transitions, gates and drills, and transitions
    refused, interrupted or resumed (with their reason)."""
    runner = build_runner(config)
    entries = runner.store.history(limit)
    if config.json:
        config.emit([e.to_dict() for e in entries])
        return 0
    table = Table(
        "id", "at", "actor", "action", "from", "to", "contexts", "verdict", "evidence", "reason"
    )
    for e in entries:
        table.add_row(
            str(e.id),
            e.at.isoformat(timespec="seconds") if e.at else "",
            e.actor,
            e.action,
            str(e.from_phase),
            str(e.to_phase),
            ",".join(e.contexts),
            e.verdict or "",
            e.evidence_path or "",
            str((e.detail or {}).get("reason", "")),
        )
    config.console().print(table)
    return 0
