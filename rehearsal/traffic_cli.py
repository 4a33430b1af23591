"""``cutover traffic``: send seeded synthetic traffic to the order API and summarise it."""

from __future__ import annotations

import secrets
import sys
from typing import TextIO

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cutover_common.cli import echo_json
from cutover_common.exit_codes import ExitCode
from cutover_common.logging import configure_logging
from rehearsal.traffic import (
    DEFAULT_MIX,
    Sample,
    TrafficConfig,
    TrafficError,
    TrafficMix,
    TrafficReport,
    check_health,
    plan_requests,
    plan_summary,
    run_traffic,
)


def traffic_run(
    config: TrafficConfig,
    out: TextIO,
    *,
    as_json: bool = False,
    progress_stream: TextIO | None = None,
) -> int:
    """Run traffic (progress bar on ``progress_stream``), print the report; 4 if a check failed."""
    check_health(config.base_url.rstrip("/"), config.timeout)
    console = Console(file=progress_stream or sys.stderr)
    columns = (
        TextColumn("[bold]traffic"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[bad]} unexpected"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=as_json) as progress:
        task = progress.add_task("traffic", total=config.total, bad=0)
        bad = 0

        def on_sample(sample: Sample) -> None:
            nonlocal bad
            bad += not sample.as_expected
            progress.update(task, advance=1, bad=bad)

        report = run_traffic(config, on_sample=on_sample, preflight=False)
    if as_json:
        echo_json({"run_id": config.run_id, "seed": config.seed, **report.to_dict()}, stream=out)
    else:
        print_report(report, out, run_id=config.run_id, seed=config.seed)
    return ExitCode.OK if report.passed else ExitCode.FAIL


def traffic_dry_run(config: TrafficConfig, out: TextIO, *, as_json: bool = False) -> int:
    """Print what ``config`` would send (per-kind counts, first requests); sends nothing."""
    summary = plan_summary(
        plan_requests(
            config.seed,
            config.total,
            config.mix,
            run_id=config.run_id,
            initial_customers=config.initial_customers,
            oversize_bytes=config.oversize_bytes,
        )
    )
    if as_json:
        echo_json({"seed": config.seed, "run_id": config.run_id, **summary}, stream=out)
        return 0
    table = Table(
        title=f"plan seed={config.seed} run={config.run_id}: {summary['requests']} requests"
    )
    table.add_column("kind")
    table.add_column("requests", justify="right")
    for label, n in summary["by_kind"].items():
        table.add_row(label, str(n))
    Console(file=out, width=120).print(table)
    return 0


def print_report(report: TrafficReport, out: TextIO, *, run_id: str = "", seed: int = 0) -> None:
    """The human summary: one row per kind, then the checks."""
    console = Console(file=out, width=140)
    title = (
        f"traffic seed={seed} run={run_id or '-'}: {report.sent}/{report.planned} sent in "
        f"{report.elapsed_s:.1f}s, {report.achieved_rate:.1f}/s (target {report.target_rate:g}/s)"
    )
    table = Table(title=title)
    for col in ("kind", "sent", "status codes", "p50 ms", "p90 ms", "p99 ms", "unexpected"):
        table.add_column(col, justify="left" if col in ("kind", "status codes") else "right")
    for k in report.by_kind:
        codes = " ".join(f"{code}:{n}" for code, n in k.status_counts.items())
        style = "[red]" if k.unexpected else ""
        table.add_row(
            k.label,
            str(k.sent),
            codes,
            f"{k.p50_ms:.1f}",
            f"{k.p90_ms:.1f}",
            f"{k.p99_ms:.1f}",
            f"{style}{k.unexpected}",
        )
    console.print(table)
    for check in report.checks:
        mark = "[green]PASS" if check.passed else "[red]FAIL"
        console.print(f"{mark}[/] {check.name}: {check.detail}")
    for error in report.errors:
        console.print(f"[yellow]error[/] {error}")


def _mix(text: str | None) -> TrafficMix:
    """``--mix`` parsed; a malformed one is a usage error (exit 2)."""
    if not text:
        return DEFAULT_MIX
    try:
        return TrafficMix.parse(text)
    except TrafficError as exc:
        raise click.BadParameter(str(exc), param_hint="--mix") from exc


@click.command("traffic")
@click.option("--base-url", default="http://127.0.0.1:5000", show_default=True)
@click.option("--rate", type=float, default=50.0, show_default=True, help="Requests per second.")
@click.option("--duration", type=float, default=30.0, show_default=True, help="Seconds.")
@click.option("--count", type=int, default=None, help="Requests to send (default rate * duration).")
@click.option("--concurrency", type=int, default=8, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option(
    "--mix",
    default="",
    help="Kind weights, e.g. 'order=60,new_customer=10,declined_payment=10,"
    "out_of_stock=10,malformed=10'.",
)
@click.option(
    "--run-id", default=None, help="Salt for e-mails and correlation ids (default: random)."
)
@click.option(
    "--timeout", type=float, default=10.0, show_default=True, help="Per request, seconds."
)
@click.option("--oversize-bytes", type=int, default=256 * 1024, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
@click.option("--dry-run", is_flag=True, help="Print the plan's make-up; send nothing.")
@click.option("--log-level", default="warning", show_default=True, help="Logs go to stderr.")
@click.pass_context
def traffic(
    ctx: click.Context,
    *,
    base_url: str,
    rate: float,
    duration: float,
    count: int | None,
    concurrency: int,
    seed: int,
    mix: str,
    run_id: str | None,
    timeout: float,
    oversize_bytes: int,
    as_json: bool,
    log_level: str,
    dry_run: bool,
) -> None:
    """Send seeded synthetic traffic (valid, declined, out-of-stock, malformed) to the order API.

    The same --seed and --run-id send the same requests. Exits 4 when a check
    fails (a malformed request not answered 4xx, a valid one not 2xx, a
    transport error, or requests left unsent).
    """
    configure_logging(level=log_level.upper(), stream=sys.stderr)
    config = TrafficConfig(
        base_url=base_url,
        rate=rate,
        duration=duration,
        count=count,
        concurrency=concurrency,
        seed=seed,
        mix=_mix(mix),
        run_id=run_id if run_id is not None else secrets.token_hex(4),
        timeout=timeout,
        oversize_bytes=oversize_bytes,
    )
    if dry_run:
        ctx.exit(traffic_dry_run(config, sys.stdout, as_json=as_json))
    ctx.exit(traffic_run(config, sys.stdout, as_json=as_json))
