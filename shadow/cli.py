"""``cutover shadow`` — run, replay and inspect the shadow pipeline.

Connection settings come from options, then ``CUTOVER_SHADOW_*`` variables,
then the local stack (``rehearsal.stack.endpoints``, imported only then).
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from cutover_common.cli import echo_json, json_option
from cutover_common.exit_codes import ExitCode
from cutover_common.modes import Mode
from cutover_common.secrets import Secret
from shadow.config import ALL_CONTEXTS, ShadowConfig


def _local_defaults(database: str | None) -> dict[str, Any]:
    from rehearsal.stack.endpoints import load_endpoints

    ep = load_endpoints()
    return {"bootstrap_servers": ep.bootstrap_servers, "dsn": Secret(ep.dsn(database))}


def _config(ctx: click.Context, **extra: Any) -> ShadowConfig:
    opts: dict[str, Any] = dict(ctx.obj)
    opts.update({k: v for k, v in extra.items() if v is not None})
    env = os.environ
    if not (opts.get("bootstrap_servers") or env.get("CUTOVER_SHADOW_BOOTSTRAP")) or not (
        opts.get("dsn") or env.get("CUTOVER_SHADOW_DSN")
    ):
        for key, value in _local_defaults(opts.pop("database", None)).items():
            opts.setdefault(key, value)
    opts.pop("database", None)
    if isinstance(opts.get("dsn"), str):
        opts["dsn"] = Secret(opts["dsn"])
    return ShadowConfig.from_env(**{k: v for k, v in opts.items() if v is not None})


@click.group("shadow")
@click.option("--bootstrap", "bootstrap_servers", help="Kafka bootstrap servers.")
@click.option("--dsn", help="Shadow store DSN (default: the local stack).", envvar=None)
@click.option("--database", help="Database of the local stack holding the shadow schema.")
@click.option("--group", "group_id", help="Consumer group (default cutover.shadow).")
@click.option(
    "--topic", "topics", multiple=True, help="Topic(s) to consume (default outbox.event.order)."
)
@click.option("--schema", help="Shadow store schema (default shadow).")
@click.option(
    "--mode", type=click.Choice([m.value for m in (Mode.DUAL, Mode.ASYNC, Mode.EVENTS_ONLY)])
)
@click.option(
    "--coordination",
    type=click.Choice(["choreography", "saga"]),
    help="How the order flow is coordinated.",
)
@click.pass_context
def shadow(ctx: click.Context, /, **options: Any) -> None:
    """The shadow asynchronous pipeline: consumers that derive outcomes from events."""
    opts = {k: v for k, v in options.items() if v not in (None, ())}
    if "topics" in opts:
        opts["topics"] = tuple(opts["topics"])
    if "mode" in opts:
        opts["mode"] = Mode(opts["mode"])
    if "coordination" in opts:
        opts["coordination"] = {"order": opts["coordination"]}
    ctx.obj = opts


@shadow.command("run")
@click.option(
    "--contexts",
    default=",".join(ALL_CONTEXTS),
    show_default=True,
    help="Comma-separated contexts.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Processes per group (several groups or processes: a supervisor starts them; they "
    "close by themselves if it dies).",
)
@click.option(
    "--metrics-port", type=int, help="Serve Prometheus metrics from this port (one per process)."
)
@click.option("--batch-size", type=click.IntRange(1, 100000))
@click.option("--idle-stop", type=float, help="Stop after this many seconds without records.")
@click.option(
    "--serial",
    is_flag=True,
    help="Write each batch before reading the next (dual mode writes behind by default).",
)
@json_option
@click.pass_context
def run_cmd(  # noqa: PLR0917 - click passes options positionally
    ctx: click.Context, contexts: str, workers: int, metrics_port: int | None,
    batch_size: int | None, idle_stop: float | None, serial: bool, as_json: bool,
) -> None:  # fmt: skip
    """Consume and apply events until SIGTERM (finish the batch, commit, close).

    With --json the logs are JSON lines on stderr and a JSON summary is printed on stdout
    when the workers stop. Exit 1 when a worker process failed.
    """
    from cutover_common.logging import configure_logging
    from shadow.commands import run

    configure_logging(json=as_json or not sys.stderr.isatty())
    selected = tuple(c.strip() for c in contexts.split(",") if c.strip())
    config = _config(
        ctx, contexts=selected, metrics_port=metrics_port, batch_size=batch_size,
        write_behind=not serial,
    )  # fmt: skip
    started = time.monotonic()
    failed = run(
        config, workers=workers, out=sys.stderr if as_json else sys.stdout, idle_stop=idle_stop
    )
    if as_json:
        echo_json(
            {
                "contexts": list(selected),
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
@click.option(
    "--since", required=True, help="ISO 8601 time; events from its minute on are replayed."
)
@json_option
@click.pass_context
def replay_cmd(ctx: click.Context, since: str, as_json: bool) -> None:
    """Reset the groups' offsets to SINCE and rebuild the shadow store (stop the workers first)."""
    from shadow.commands import replay

    report = replay(_config(ctx), _parse_time(since), out=sys.stderr if as_json else sys.stdout)
    if as_json:
        echo_json(report.to_dict())


@shadow.command("status")
@json_option
@click.pass_context
def status_cmd(ctx: click.Context, as_json: bool) -> None:
    """Lag per partition (messages, and ms per group), events expired unread, dead-lettered
    records and delivery anomalies."""
    from shadow.commands import status

    data = status(_config(ctx))
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
    console.print(f"dead-lettered: {data['dead_lettered']} in {data['dead_letter_topic']}")
    anomalies = Table(title="Delivery anomalies")
    for col in ("context", "kind", "count"):
        anomalies.add_column(col)
    for context, kinds in sorted(data["anomalies"].items()):
        for kind, count in sorted(kinds.items()):
            anomalies.add_row(context, kind, str(count))
    console.print(anomalies)
