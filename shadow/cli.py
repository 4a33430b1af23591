"""``cutover shadow`` — run, replay and inspect a team's shadow app.

Connection settings come from options, then ``CUTOVER_SHADOW_*`` variables
(:mod:`cutover_common.config`): ``--bootstrap`` / ``CUTOVER_SHADOW_BOOTSTRAP`` (default
``127.0.0.1:9092``) and ``--dsn`` / ``CUTOVER_SHADOW_DSN`` (no default). The app is ``--app
module:attribute`` (``CUTOVER_SHADOW_APP``), or the plan's ``contexts.<name>.shadow.app``
with ``--plan PLAN --context NAME``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cutover_common.cli import LazyGroup, echo_json, json_option, plan_option
from cutover_common.config import SHADOW_BOOTSTRAP, SHADOW_DSN
from cutover_common.errors import PlanFileMissing
from cutover_common.exit_codes import ExitCode
from cutover_common.modes import Mode
from cutover_common.secrets import Secret
from shadow.config import SHADOW_MODES, ShadowConfig, parse_options
from shadow.errors import ShadowConfigError

F = TypeVar("F", bound=Callable[..., Any])


def plan_values(plan_path: Path, context: str) -> dict[str, Any]:
    """What the plan says about ``context``'s shadow: its app and options, its topic, its
    consumer group and the Kafka cluster."""
    from phases.errors import UnknownContext
    from phases.plan import load_plan

    plan = load_plan(plan_path)
    if context not in plan.contexts:
        raise UnknownContext(context, sorted(plan.contexts))
    spec = plan.contexts[context]
    values: dict[str, Any] = {
        "bootstrap_servers": plan.system.kafka.bootstrap_servers,
        "topics": (spec.topic.name,),
    }
    if spec.consumer_group:
        values["group_id"] = spec.consumer_group
    if spec.shadow is not None:
        values["app"] = spec.shadow.app
        values["options"] = dict(spec.shadow.options)
    return values


def _config(ctx: click.Context, **extra: Any) -> ShadowConfig:
    opts: dict[str, Any] = {}
    plan, context = extra.pop("plan_path", None), extra.pop("context", None)
    if context is not None:  # the plan is read only for a context
        if plan is None or not plan.is_file():
            raise PlanFileMissing(str(plan))
        opts.update(plan_values(plan, context))
    cli_options = parse_options(extra.pop("option", ()) or ())
    opts.update(ctx.obj)
    opts.update({k: v for k, v in extra.items() if v not in (None, ())})
    opts["options"] = {**opts.get("options", {}), **cli_options}
    if isinstance(opts.get("dsn"), str):
        opts["dsn"] = Secret(opts["dsn"])
    config = ShadowConfig.from_env(**{k: v for k, v in opts.items() if v is not None})
    if not config.app:
        raise ShadowConfigError(
            "app", "name the app: --app module:attribute, CUTOVER_SHADOW_APP, or --plan/--context"
        )
    return config


_APP_OPTIONS = (
    click.option("--app", help="The shadow app, module:attribute (e.g. myteam.shadow:app)."),
    click.option(
        "--option",
        multiple=True,
        metavar="KEY=VALUE",
        help="An option for the app's consumers (repeatable; CUTOVER_SHADOW_OPTION_<KEY>).",
    ),
    click.option(
        "--consumer",
        "consumers",
        multiple=True,
        metavar="NAME",
        help="Only this consumer of the app (repeatable; default all).",
    ),
    click.option(
        "--topic",
        "topics",
        multiple=True,
        help="Topic(s) to consume (as the group's --topic; default: the app's).",
    ),
    plan_option(must_exist=False),
    click.option(
        "--context",
        help="Take the app, its options, topic and group from this context of the plan.",
    ),
)


def app_options(fn: F) -> F:
    """``--app``, ``--option``, ``--consumer``, ``--topic``, ``--plan``/``--context`` of every
    command."""
    for option in reversed(_APP_OPTIONS):
        fn = option(fn)
    return fn


@click.group("shadow", cls=LazyGroup, lazy={"dlq": "shadow.cli_dlq:dlq"})
@click.option(
    "--bootstrap",
    "bootstrap_servers",
    help=f"Kafka bootstrap servers (${SHADOW_BOOTSTRAP.name}, default {SHADOW_BOOTSTRAP.default}).",
)
@click.option(
    "--dsn", help=f"Shadow store DSN or URL (${SHADOW_DSN.name}; no default).", envvar=None
)
@click.option("--group", "group_id", help="Base consumer group (default cutover.shadow).")
@click.option("--topic", "topics", multiple=True, help="Topic(s) to consume (default: the app's).")
@click.option("--schema", help="Shadow store schema (default shadow).")
@click.option(
    "--mode",
    type=click.Choice([m.value for m in SHADOW_MODES]),
    help="Mode of events that carry none (each event's stamped mode wins).",
)
@click.pass_context
def shadow(ctx: click.Context, /, **options: Any) -> None:
    """The shadow asynchronous pipeline: a team's app derives its outcomes from events."""
    opts = {k: v for k, v in options.items() if v not in (None, ())}
    if "topics" in opts:
        opts["topics"] = tuple(opts["topics"])
    if "mode" in opts:
        opts["mode"] = Mode(opts["mode"])
    ctx.obj = opts


@shadow.command("run")
@app_options
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Processes per consumer (several consumers or processes: a supervisor starts them; "
    "they close by themselves if it dies).",
)
@click.option(
    "--metrics-port", type=int, help="Serve Prometheus metrics from this port (one per process)."
)
@click.option("--batch-size", type=click.IntRange(1, 100000))
@click.option("--idle-stop", type=float, help="Stop after this many seconds without records.")
@click.option(
    "--serial",
    is_flag=True,
    help="Write each batch before reading the next (option write_behind=false).",
)
@json_option
@click.pass_context
def run_cmd(  # noqa: PLR0917 - click passes options positionally
    ctx: click.Context, /, workers: int, metrics_port: int | None, batch_size: int | None,
    idle_stop: float | None, serial: bool, as_json: bool, **app: Any,
) -> None:  # fmt: skip
    """Consume and apply events until SIGTERM (finish the batch, commit, close).

    With --json the logs are JSON lines on stderr and a JSON summary is printed on stdout
    when the workers stop. Exit 1 when a worker process failed, 2 for a bad app reference
    or option.
    """
    from cutover_common.logging import configure_logging
    from shadow.commands import run

    configure_logging(json=as_json or not sys.stderr.isatty())
    config = _config(
        ctx, metrics_port=metrics_port, batch_size=batch_size, write_behind=not serial, **app
    )
    started = time.monotonic()
    failed = run(
        config, workers=workers, out=sys.stderr if as_json else sys.stdout, idle_stop=idle_stop
    )
    if as_json:
        echo_json(
            {
                "app": config.app,
                "consumers": list(config.consumers),
                "workers": workers,
                "failed": failed,
                "seconds": round(time.monotonic() - started, 3),
            }
        )
    if failed:
        raise click.exceptions.Exit(ExitCode.ERROR)


def _parse_time(value: str) -> datetime:
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time") from exc
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


@shadow.command("replay")
@app_options
@click.option(
    "--since", required=True, help="ISO 8601 time; events from its minute on are replayed."
)
@json_option
@click.pass_context
def replay_cmd(ctx: click.Context, /, since: str, as_json: bool, **app: Any) -> None:
    """Reset the consumers' groups to SINCE and make their stores forget what they derived
    since then (stop the workers first). Exit 2 for a bad app reference or option."""
    from shadow.commands import replay

    when = _parse_time(since)
    report = replay(_config(ctx, **app), when, out=sys.stderr if as_json else sys.stdout)
    if as_json:
        echo_json(report.to_dict())


@shadow.command("status")
@app_options
@json_option
@click.pass_context
def status_cmd(ctx: click.Context, /, as_json: bool, **app: Any) -> None:
    """Lag per partition (messages, and ms per group), events expired unread, dead-lettered
    records and delivery anomalies of the app's consumers. Exit 2 for a bad app reference."""
    from shadow.commands import status

    data = status(_config(ctx, **app))
    if as_json:
        echo_json(data)
        return
    print_status(data, Console())


def print_status(data: dict[str, Any], console: Console) -> None:
    """Rich tables of :func:`shadow.commands.status` output."""
    lag = Table(title="Consumer lag (from the log start)")
    for col in ("group", "topic", "partition", "committed", "log start", "high", "lag", "expired"):
        lag.add_column(col)
    for group, parts in data["lag"].items():
        for p in parts:
            lag.add_row(
                group,
                p["topic"],
                str(p["partition"]),
                "-" if p["committed"] is None else str(p["committed"]),
                str(p.get("log_start", 0)),
                str(p["high"]),
                str(p["lag"]),
                str(p.get("expired", 0)),
            )
    console.print(lag)
    for group, t in data.get("groups", {}).items():
        members = "unknown" if t["members"] is None else t["members"]
        console.print(
            f"{group}: lag {t['lag_messages']} message(s), {t['lag_ms']:g} ms; members {members}"
        )
        if t["expired"]:
            console.print(
                f"{group}: {t['expired']} event(s) expired: deleted from Kafka before the "
                "group read them (retention outran the consumers)"
            )
    for group, notes in data.get("stuck", {}).items():
        for note in notes:
            console.print(f"[bold red]{group}: {escape(note)}[/]")
    console.print(f"dead-lettered: {data['dead_lettered']} in {data['dead_letter_topic']}")
    anomalies = Table(title="Delivery anomalies")
    for col in ("context", "kind", "count"):
        anomalies.add_column(col)
    for context, kinds in sorted(data["anomalies"].items()):
        for kind, count in sorted(kinds.items()):
            anomalies.add_row(context, kind, str(count))
    console.print(anomalies)
