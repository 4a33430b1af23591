"""Click wrappers over :mod:`phases.commands` (thin: parse options, call, exit with the code)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO, TypeVar, cast

import click

from cutover_common.cli import DEFAULT_PLAN, json_option, plan_option
from phases import commands
from phases.commands import CommandConfig
from phases.instances import DEFAULT_WAIT, WaitOptions

F = TypeVar("F", bound=Callable[..., Any])


def common_options(func: F) -> F:
    """--plan, --state-url, --reports-dir, --actor, --json (also from CUTOVER_* env vars)."""
    options = [
        plan_option(),
        click.option(
            "--state-url",
            envvar="CUTOVER_STATE_URL",
            default=None,
            help="state store SQLAlchemy URL (default: the plan's database)",
        ),
        click.option(
            "--reports-dir",
            type=click.Path(path_type=Path),
            default=None,
            help="where evidence bundles go (default: the plan's reports_dir)",
        ),
        click.option("--actor", envvar="CUTOVER_ACTOR", default=None, help="who is operating"),
        json_option,
    ]
    for option in reversed(options):
        func = option(func)
    return func


def wait_options(func: F) -> F:
    """--wait-instances, --instance-liveness (advance and rollback)."""
    func = click.option(
        "--instance-liveness",
        type=click.FloatRange(min=0.1),
        default=DEFAULT_WAIT.live_within_s,
        show_default=True,
        help="seconds since its last heartbeat within which an application instance is live",
    )(func)
    return click.option(
        "--wait-instances",
        type=click.FloatRange(min=0),
        default=DEFAULT_WAIT.timeout_s,
        show_default=True,
        help="seconds to wait for every live application instance to report the new modes "
        "(0: do not wait)",
    )(func)


class _Stderr:
    """Whatever ``sys.stderr`` is at write time (test runners swap it per invocation)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _logging() -> None:
    """Logs go to stderr (never mixed into --json on stdout), once per process."""
    import structlog

    from cutover_common.logging import configure_logging

    if not structlog.is_configured():
        configure_logging(stream=cast(TextIO, _Stderr()))


def _config(
    plan_path: Path,
    state_url: str | None,
    reports_dir: Path | None,
    actor: str | None,
    as_json: bool,
) -> CommandConfig:
    _logging()
    config = CommandConfig(
        plan_path=plan_path,
        state_url=state_url,
        reports_dir=reports_dir,
        json=as_json,
        stdout=sys.stdout,
    )
    if actor:
        config.actor = actor
    obj = click.get_current_context().obj
    if isinstance(obj, dict) and obj.get("ports_factory"):
        config.ports_factory = obj["ports_factory"]
    return config


def _exit(code: int) -> None:
    """Exit with ``code`` (SystemExit, so the code survives ``standalone_mode=False`` too)."""
    if code:
        raise SystemExit(code)


@click.group("plan")
def plan_group() -> None:
    """Validate the migration plan or export its JSON Schema."""


@plan_group.command("validate")
@click.argument("file", type=click.Path(path_type=Path), required=False)
@plan_option(must_exist=False)
@click.option(
    "--online",
    is_flag=True,
    help="also check the plan against the live system through its env references: tables, "
    "outcome queries, imports, Debezium readiness, the connectors running on Connect",
)
@json_option
def plan_validate_cmd(file: Path | None, plan_path: Path, online: bool, as_json: bool) -> None:
    """Validate the plan (FILE, or --plan): exit 0 when valid, 2 with one `path: reason`
    line per problem. Offline it reads only the file (references are checked for their
    module:attribute form); --online connects and imports (docs/plan.md)."""
    config = CommandConfig(json=as_json, stdout=sys.stdout)
    _exit(commands.plan_validate(config, file or plan_path, online=online))


@plan_group.command("schema")
@json_option
def plan_schema_cmd(as_json: bool) -> None:
    """Print the plan's JSON Schema (JSON either way; --json is accepted for uniformity)."""
    _exit(commands.plan_schema(CommandConfig(json=as_json, stdout=sys.stdout)))


@click.command("status")
@common_options
def status_cmd(**opts: Any) -> None:
    """Show the current phase, the mode of every context and any interrupted transition.

    Exit codes: 0 shown (also when a transition is interrupted), 2 invalid plan, 8 state
    store unreachable.
    """
    _exit(commands.status(_config(**opts)))


@click.command("advance")
@click.option("--to", "to", type=click.IntRange(0, 5), default=None, help="target phase")
@click.option("--context", default=None, help="move one context to async (phase 4)")
@click.option("--dry-run", is_flag=True, help="print what would happen, change nothing")
@click.option("--resume", is_flag=True, help="continue an interrupted transition")
@click.option(
    "--allow-resnapshot",
    is_flag=True,
    help="apply the plan's connectors even when a new topic prefix, slot or publication "
    "would publish their outbox again",
)
@click.option(
    "--check-online/--no-check-online",
    default=True,
    show_default=True,
    help="first check the plan as `cutover plan validate --online` does (exit 2 with the "
    "problems, nothing changed)",
)
@wait_options
@common_options
def advance_cmd(
    *,
    to: int | None,
    context: str | None,
    dry_run: bool,
    resume: bool,
    allow_resnapshot: bool,
    check_online: bool,
    wait_instances: float,
    instance_liveness: float,
    **opts: Any,
) -> None:
    """Advance the migration when the current phase's gate passes; then wait until every
    live application instance reports the new modes.

    Exit codes: 0 pass, 3 warn (paused), 4 fail (reverted or paused), 5 low-confidence,
    6 inconclusive (paused), 10 refused or locked (a plan connector whose new topic prefix,
    slot or publication would republish its outbox, without --allow-resnapshot), or live
    instances still on the old mode after --wait-instances (named), 9 nothing to resume /
    unknown context, 2 invalid plan (with --check-online: the online checks' problems).
    """
    wait = WaitOptions(wait_instances, instance_liveness)
    config = _config(**opts)
    config.check_online = check_online
    _exit(
        commands.advance(
            config,
            to=to,
            context=context,
            dry_run=dry_run,
            resume=resume,
            wait=wait,
            allow_resnapshot=allow_resnapshot,
        )
    )


@click.command("rollback")
@click.option("--to", "to", type=click.IntRange(0, 5), default=None, help="target phase")
@click.option("--context", default=None, help="move one context from async back to dual")
@click.option("--dry-run", is_flag=True, help="print what would happen, change nothing")
@wait_options
@common_options
def rollback_cmd(
    *,
    to: int | None,
    context: str | None,
    dry_run: bool,
    wait_instances: float,
    instance_liveness: float,
    **opts: Any,
) -> None:
    """Roll back to the previous phase (or --to N), running each step's backward action;
    then wait until every live application instance reports the new modes.

    Exit codes: 0 rolled back, 10 refused or locked, or live instances still on the old
    mode after --wait-instances (named), 9 unknown context, 1 a step failed.
    """
    wait = WaitOptions(wait_instances, instance_liveness)
    _exit(commands.rollback(_config(**opts), to=to, context=context, dry_run=dry_run, wait=wait))


@click.group("gate")
def gate_group() -> None:
    """Evaluate phase gates."""


@gate_group.command("check")
@click.option("--context", default=None, help="only this context")
@common_options
def gate_check_cmd(context: str | None, **opts: Any) -> None:
    """Evaluate the current phase's gate and write its evidence bundle.

    Exit codes: the verdict's: 0 pass, 3 warn, 4 fail, 5 low-confidence, 6 inconclusive.
    """
    _exit(commands.gate_check(_config(**opts), context=context))


@click.command("history")
@click.option("--limit", type=int, default=50, show_default=True)
@common_options
def history_cmd(limit: int, **opts: Any) -> None:
    """Print the audit trail, newest first (transitions, gates, drills, refusals).

    Exit codes: 0 printed, 2 invalid plan, 8 state store unreachable.
    """
    _exit(commands.history(_config(**opts), limit=limit))


@click.command("discover")
@click.option(
    "--database-url-env",
    default="LEGACY_DATABASE_URL",
    show_default=True,
    help="env var holding the database URL to reflect",
)
@click.option(
    "--calls",
    "calls_file",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="JSONL of recorded outbound HTTP calls {method,url,correlation_id,duration_ms}",
)
@click.option(
    "--recorded",
    "writes_file",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="JSONL of recorded writes {txn, tables} or {txn, sql}: tables written in one "
    "transaction cluster together (foreign keys otherwise)",
)
@click.option("--schema", "db_schema", default=None, help="database schema to reflect")
@click.option(
    "--bootstrap-servers",
    default=None,
    help="Kafka bootstrap servers for the draft (default: $CUTOVER_KAFKA_BOOTSTRAP_SERVERS)",
)
@click.option(
    "--connect-url",
    default=None,
    help="Kafka Connect REST URL for the draft (default: $CUTOVER_CONNECT_URL)",
)
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    default=Path(DEFAULT_PLAN),
    show_default=True,
    help="where to write the plan draft",
)
@click.option("--json", "as_json", is_flag=True, help="print the proposal as JSON")
def discover_cmd(  # noqa: PLR0917 - click passes options positionally
    database_url_env: str,
    calls_file: Path | None,
    writes_file: Path | None,
    db_schema: str | None,
    bootstrap_servers: str | None,
    connect_url: str | None,
    out: Path,
    as_json: bool,
) -> None:
    """Propose bounded contexts from the database, recorded writes and recorded calls; write
    a plan draft (hub tables shared by contexts are listed in its evidence)."""
    _logging()
    from phases.discover_command import discover

    config = CommandConfig(json=as_json, stdout=sys.stdout)
    _exit(
        discover(
            config,
            url_env=database_url_env,
            calls_file=calls_file,
            writes_file=writes_file,
            schema=db_schema,
            out=out,
            bootstrap=bootstrap_servers,
            connect_url=connect_url,
        )
    )
