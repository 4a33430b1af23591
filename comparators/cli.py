"""``cutover compare run|watch|report|calibrate|merge`` and ``cutover repair``.

Exit codes of ``run``, ``watch``, ``report`` and ``merge`` follow the verdict (rows of
:class:`cutover_common.exit_codes.ExitCode`): pass 0, warn 3, fail 4, low-confidence 5;
2 for invalid input (plan, rule, partition), 1 for other errors.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click
import structlog

from cdc.outbox_table import OutboxLayout
from comparators import commands
from comparators.outbox import PostgresOutbox, parse_versioned
from comparators.partition import Partition
from comparators.plan import CompareConfig
from comparators.repair import default_payload
from comparators.rules import load_target
from comparators.sources import CallableSource, OutcomeSource, SqlSource
from comparators.watch import LATE_LIMIT, FileWatermarkStore, PostgresWatermarkStore, WatermarkStore
from cutover_common.cli import echo_json, json_option, plan_option
from cutover_common.errors import EnvironmentVariableMissing
from cutover_common.logging import configure_logging

if TYPE_CHECKING:
    from phases.plan import Plan

_plan = plan_option()
_context = click.option(
    "--context", required=True, help="Bounded context to compare (a key of contexts:)."
)
_gate = click.option(
    "--gate", default="dual_write", show_default=True, help="Gate whose thresholds apply."
)
_json = json_option


def _logs_to_stderr() -> None:
    """Log lines go to stderr so ``--json`` on stdout stays parseable (unless the entry
    point configured logging already)."""
    if not structlog.is_configured():
        configure_logging(stream=sys.stderr)


def _read_plan(plan_path: Path) -> Plan:
    """The plan file, read with the one plan model (``phases.plan``: invalid input is one
    error naming the file, field and line)."""
    from phases.plan import load_plan  # the one plan model; only when a plan is read

    return load_plan(plan_path)


def _config(plan_path: Path, context: str, gate: str) -> CompareConfig:
    from phases.compare_config import compare_config

    return compare_config(_read_plan(plan_path), context, gate=gate)


def _now(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text).astimezone(UTC) if text else None


@click.group("compare")
def compare() -> None:
    """Compare control (sync) and candidate (event) outcomes; judge; write evidence.

    Exit codes: pass 0, warn 3, fail 4, low-confidence 5; 2 invalid input.
    """
    _logs_to_stderr()


@compare.command("run")
@_plan
@_context
@_gate
@click.option(
    "--partition", default="0/1", show_default=True, help="Key-hash range i/n of this worker."
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write evidence.json, report.html, summary.md, junit.xml here.",
)
@click.option(
    "--noise",
    "noise_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A/A noise floor JSON (from `compare calibrate`).",
)
@click.option("--now", "now_text", help="Judge as of this ISO time (default: now).")
@click.option(
    "--window",
    "window_seconds",
    type=click.FloatRange(min=0),
    help="Judge the keys of the last SECONDS only (default: the gate's window_seconds; "
    "0: every key on record).",
)
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr.")
@_json
@click.pass_context
def run_cmd(  # noqa: PLR0917
    ctx: click.Context,
    plan_path: Path,
    context: str,
    gate: str,
    partition: str,
    out_dir: Path | None,
    noise_path: Path | None,
    now_text: str | None,
    window_seconds: float | None,
    progress: bool,
    as_json: bool,
) -> None:
    """Compare once over the settled keys of the gate's window."""
    config = _config(plan_path, context, gate)
    if window_seconds is not None:
        config = dataclasses.replace(
            config, window=timedelta(seconds=window_seconds) if window_seconds else None
        )
    outcome = commands.run_compare(
        config,
        now=_now(now_text),
        partition=Partition.parse(partition),
        noise=commands.load_noise(noise_path) if noise_path else None,
        out_dir=out_dir,
        stdout=sys.stdout,
        as_json=as_json,
        progress=progress and not as_json and sys.stderr.isatty(),
    )
    ctx.exit(outcome.verdict.exit_code)


@compare.command("watch")
@_plan
@_context
@_gate
@click.option("--name", help="Watcher name (default: <context>).")
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".cutover/compare"),
    show_default=True,
    help="Keep the watermark in a file here.",
)
@click.option(
    "--state-db-env",
    help="Keep the watermark in table cutover.compare_watermarks (see `cutover init`) of the database "
    "whose URL is in this environment variable.",
)
@click.option(
    "--interval", type=float, default=10.0, show_default=True, help="Seconds between steps."
)
@click.option(
    "--iterations", type=int, help="Stop after this many steps (default: run until interrupted)."
)
@click.option("--partition", default="0/1", show_default=True)
@click.option(
    "--late-limit",
    type=click.FloatRange(min=0),
    default=LATE_LIMIT.total_seconds(),
    show_default=True,
    help="Seconds a key judged missing waits for a late candidate (then judged again).",
)
@_json
@click.pass_context
def watch_cmd(  # noqa: PLR0917
    ctx: click.Context,
    plan_path: Path,
    context: str,
    gate: str,
    name: str | None,
    state_dir: Path,
    state_db_env: str | None,
    interval: float,
    iterations: int | None,
    partition: str,
    late_limit: float,
    as_json: bool,
) -> None:
    """Compare continuously, judging keys as their settle windows close.

    With --json the step lines go to stderr and the final verdict is printed as JSON.
    """
    store: WatermarkStore
    if state_db_env:
        if state_db_env not in os.environ:
            raise EnvironmentVariableMissing(state_db_env, named_by="--state-db-env")
        store = PostgresWatermarkStore(os.environ[state_db_env])
    else:
        store = FileWatermarkStore(state_dir)
    verdict = commands.watch_compare(
        _config(plan_path, context, gate),
        store,
        name=name or context,
        interval=interval,
        iterations=iterations,
        partition=Partition.parse(partition),
        late_limit=timedelta(seconds=late_limit),
        stdout=sys.stderr if as_json else sys.stdout,
    )
    if as_json:
        echo_json({"name": name or context, "verdict": verdict.to_dict()})
    ctx.exit(verdict.exit_code)


@compare.command("report")
@click.argument("evidence", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@_json
@click.pass_context
def report_cmd(ctx: click.Context, evidence: Path, out_dir: Path, as_json: bool) -> None:
    """Render a saved evidence.json as HTML, Markdown and JUnit XML again."""
    doc = json.loads(evidence.read_text())
    paths = commands.write_reports(doc, out_dir)
    if as_json:
        echo_json({"files": [str(p) for p in paths], "verdict": doc["verdict"]})
    else:
        for path in paths:
            click.echo(str(path))
    ctx.exit(int(doc["verdict"]["exit_code"]))


@compare.command("merge")
@click.argument(
    "evidence",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path))
@_json
@click.pass_context
def merge_cmd(
    ctx: click.Context, evidence: tuple[Path, ...], out_dir: Path | None, as_json: bool
) -> None:
    """Merge the evidence of partition runs into one result and verdict."""
    docs = [json.loads(p.read_text()) for p in evidence]
    doc = commands.merge_evidence(docs)
    if out_dir:
        commands.write_reports(doc, out_dir)
    if as_json:
        echo_json(doc)
    else:
        commands.print_summary(doc, sys.stdout)
    ctx.exit(doc["verdict"]["exit_code"])


@compare.command("calibrate")
@_plan
@_context
@click.option("--second-sql", help="SQL of the second (identical) candidate pipeline.")
@click.option("--second-callable", help="'module:function' of the second candidate pipeline.")
@click.option(
    "--second-db-env", help="Environment variable holding the second pipeline's database URL."
)
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True)
@_json
def calibrate_cmd(  # noqa: PLR0917
    plan_path: Path,
    context: str,
    second_sql: str | None,
    second_callable: str | None,
    second_db_env: str | None,
    out_path: Path,
    as_json: bool,
) -> None:
    """A/A: measure the noise floor between two identical candidate pipelines."""
    config = _config(plan_path, context, "dual_write")
    second: OutcomeSource
    if second_callable:
        second = CallableSource(second_callable, name="candidate-b", key=config.options.key)
    elif second_sql and second_db_env and second_db_env in os.environ:
        second = SqlSource(
            os.environ[second_db_env], second_sql, name="candidate-b", key=config.options.key
        )
    else:
        raise click.UsageError("give --second-callable, or --second-sql with a set --second-db-env")
    noise, result = commands.calibrate_noise(config.candidate, second, config)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(
        json.dumps({"noise": noise.to_dict(), "result": result.to_dict()}, default=str)
    )
    if as_json:
        echo_json({"noise": noise.to_dict(), "out": str(out_path)})
        return
    click.echo(f"noise floor {noise.rate:.6f} over {noise.settled} keys -> {out_path}")


@click.command("repair")
@_plan
@_context
@click.option("--apply", is_flag=True, help="Write the events (default: dry run).")
@click.option("--yes", is_flag=True, help="Confirm --apply without a prompt.")
@click.option(
    "--outbox-db-env",
    help="Environment variable with the URL of the database holding the outbox "
    "(default: the plan's system database).",
)
@click.option(
    "--event-type", help="Event type to emit for missing keys (default: the context's first event)."
)
@click.option(
    "--run-id", help="Repair run id (default: a new one); same id twice writes nothing new."
)
@click.option(
    "--payload",
    "payload_target",
    metavar="MODULE:FUNCTION",
    help="Builds each event's payload from the control outcome: f(event_type, outcome) -> dict "
    "(default: the outcome itself, marked as a repair).",
)
@click.option(
    "--versioned-aggregate",
    "versioned",
    multiple=True,
    metavar="TYPE=TABLE[.KEY[.VERSION]]",
    help="An aggregate type whose rows keep a version counter (e.g. order=orders: "
    "orders.version where orders.id is the aggregate id); repeatable. Default: none.",
)
@_json
def repair(  # noqa: PLR0917
    plan_path: Path,
    context: str,
    apply: bool,
    yes: bool,
    outbox_db_env: str | None,
    event_type: str | None,
    run_id: str | None,
    payload_target: str | None,
    versioned: tuple[str, ...],
    as_json: bool,
) -> None:
    """Propose (and with --apply --yes write) compensating outbox events for missing keys."""
    _logs_to_stderr()
    config = _config(plan_path, context, "dual_write")
    if apply and not yes:
        raise click.UsageError("--apply writes to the outbox: add --yes to confirm")
    writer = None
    if apply:
        env = outbox_db_env or _system_db_env(plan_path)
        if not env or env not in os.environ:
            raise click.UsageError("no outbox database: set --outbox-db-env to a set variable")
        try:
            counters = parse_versioned(versioned)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--versioned-aggregate") from None
        writer = PostgresOutbox(os.environ[env], _outbox_layout(plan_path), counters)
    payload = load_target(payload_target) if payload_target else default_payload
    commands.repair(
        config,
        writer=writer,
        apply=apply,
        run_id=run_id,
        as_json=as_json,
        event_type=event_type,
        payload=payload,
    )


def _outbox_layout(plan_path: Path) -> OutboxLayout:
    """The plan's ``outbox:`` block (the table and column names the repair writes)."""
    return _read_plan(plan_path).outbox.layout()


def _system_db_env(plan_path: Path) -> str | None:
    return _read_plan(plan_path).system.database.url_env
