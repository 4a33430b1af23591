"""`cutover stack up|down|status|logs|compose` — the local stack from the command line.

Exit codes: 0 done/healthy, 7 a component is unhealthy (or did not become healthy),
11 ``compose --check`` found docker-compose.yml out of date, 1 other errors (a port taken
by another process, no Java, a corrupt state directory, ``up``/``down`` of an external
stack), 2 an incomplete ``CUTOVER_STACK=external`` environment. With
``CUTOVER_STACK=external`` ``status`` checks the external endpoints and nothing is started
or stopped.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import click
from rich.console import Console
from rich.table import Table

from cutover_common.cli import echo_json, json_option
from cutover_common.exit_codes import ExitCode
from rehearsal.stack import manager
from rehearsal.stack.endpoints import is_external
from rehearsal.stack.process import tail
from rehearsal.stack.topology import load_topology


def render(report: manager.StackReport, out: TextIO, title: str) -> None:
    """Print a report as a Rich table."""
    table = Table(title=title)
    for col in ("component", "state", "pid", "address", "action", "seconds"):
        table.add_column(col)
    for c in report.components:
        state = "healthy" if c.healthy else ("running, unhealthy" if c.running else "stopped")
        action = "started" if c.started else ("already running" if c.running else "-")
        table.add_row(c.name, state, str(c.pid or "-"), c.address, action, f"{c.seconds:.1f}")
    console = Console(file=out, width=110)
    console.print(table)
    console.print(
        f"took {report.seconds:.1f}s"
        + (" (jars fetched from Maven Central)" if report.jars_fetched else "")
    )


@click.group()
def stack() -> None:
    """Manage the local stack: PostgreSQL, Kafka (KRaft), Kafka Connect + Debezium."""


@stack.command()
@click.option(
    "--connect-auth",
    is_flag=True,
    help="Protect Kafka Connect's REST API with basic auth (kept for later `up`s; the "
    "password is in <state>/secrets/connect.password).",
)
@json_option
def up(connect_auth: bool, as_json: bool) -> None:
    """Start what is not running and wait until every component is healthy (idempotent)."""
    report = manager.up(load_topology(), connect_auth=connect_auth)
    if as_json:
        echo_json(report.to_dict())
    else:
        render(report, sys.stdout, "cutover stack up")
    if not report.healthy:
        sys.exit(ExitCode.UNHEALTHY)


@stack.command()
@click.option("--wipe", is_flag=True, help="Also delete the data (Postgres cluster, Kafka logs).")
@click.option(
    "--only",
    "only",
    multiple=True,
    type=click.Choice(list(manager.COMPONENTS)),
    help="Stop only these components (repeatable); default all.",
)
@json_option
def down(wipe: bool, only: tuple[str, ...], as_json: bool) -> None:
    """Stop exactly the processes the stack started; keep data unless --wipe."""
    stopped = manager.down(load_topology(), wipe=wipe, only=only or manager.COMPONENTS)
    if as_json:
        echo_json({"stopped": list(stopped), "wiped": wipe})
        return
    click.echo(
        f"stopped: {', '.join(stopped) or 'nothing was running'}"
        + (" (data wiped)" if wipe else "")
    )


@stack.command()
@json_option
def status(as_json: bool) -> None:
    """Show what runs where; exit 7 when a component is not healthy."""
    report = manager.status(load_topology())
    if as_json:
        echo_json(report.to_dict())
    else:
        external = " (external: CUTOVER_STACK=external)" if is_external() else ""
        render(report, sys.stdout, "cutover stack status" + external)
    if not report.healthy:
        sys.exit(ExitCode.UNHEALTHY)


@stack.command()
@click.argument("name", type=click.Choice(list(manager.COMPONENTS)))
@click.option("-n", "--lines", default=50, show_default=True, help="How many lines to show.")
@json_option
def logs(name: str, lines: int, as_json: bool) -> None:
    """Show the last lines of a component's log file."""
    path = Path(manager.log_path(load_topology(), name))
    text = tail(path, lines)
    if as_json:
        echo_json({"component": name, "path": str(path), "lines": text.splitlines()})
        return
    click.echo(f"==> {path} <==")
    click.echo(text)


@stack.command()
@click.option(
    "--check", is_flag=True, help="Exit 11 when docker-compose.yml differs from the topology."
)
@json_option
def compose(check: bool, as_json: bool) -> None:
    """Write docker-compose.yml from the topology (or check that it is current)."""
    from rehearsal.stack.compose import COMPOSE_PATH, render_compose
    from rehearsal.stack.topology import Topology

    text = render_compose(Topology())  # the defaults, not this shell's CUTOVER_* overrides
    if check:
        current = COMPOSE_PATH.read_text() if COMPOSE_PATH.exists() else ""
        if as_json:
            echo_json({"path": str(COMPOSE_PATH), "current": current == text, "written": False})
        elif current == text:
            click.echo("docker-compose.yml matches the topology")
        else:
            click.echo("docker-compose.yml is out of date: run `cutover stack compose`", err=True)
        if current != text:
            sys.exit(ExitCode.DRIFT)
        return
    COMPOSE_PATH.write_text(text)
    if as_json:
        echo_json({"path": str(COMPOSE_PATH), "current": True, "written": True})
        return
    click.echo(f"wrote {COMPOSE_PATH}")
