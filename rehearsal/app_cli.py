"""``cutover app up|down|status``: the sample monolith as local processes.

Thin click wrappers over plain functions that take an output stream. This module is the
glue between the local stack and the sample (the sample itself knows neither the stack nor
cutover's internals): it turns the stack's endpoints into the services' configuration, and
the sample's errors into one line of the CLI (:class:`AppCommandFailed`).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import IO

import click
from rich.console import Console
from rich.table import Table

from cutover_common.cli import echo_json
from cutover_common.exit_codes import ExitCode
from cutover_common.secrets import Secret
from legacy_app.config import service_ports
from legacy_app.errors import LegacyAppError
from legacy_app.runner import RunSpec, ServiceStatus, service_status, start_services, stop_services
from rehearsal.errors import RehearsalError


class AppCommandFailed(RehearsalError):
    """Raised when the sample refused an ``app`` command (a service that cannot start, a bad
    setting); the sample's message and hint."""


def _run_dir(run_dir: Path | None = None) -> Path:
    if run_dir is not None:
        return run_dir
    from rehearsal.stack.topology import load_topology

    return load_topology().state_dir / "app"


def default_spec(
    database: str | None = None,
    *,
    ports: Mapping[str, int] | None = None,
    run_dir: Path | None = None,
) -> RunSpec:
    """A run spec for the local stack: its database (or ``database``) and Kafka.

    Ports: 5000-5004, ``CUTOVER_APP_<SERVICE>_PORT``, then ``ports``.
    """
    from rehearsal.stack.endpoints import load_endpoints
    from rehearsal.stack.topology import load_topology

    endpoints = load_endpoints(load_topology())
    return RunSpec(
        run_dir=_run_dir(run_dir),
        database_url=Secret(endpoints.database_url(database)),
        ports=service_ports(ports),
        host=endpoints.host,
        env={"CUTOVER_KAFKA_BOOTSTRAP_SERVERS": endpoints.bootstrap_servers},
    )


def _print(statuses: list[ServiceStatus], out: IO[str], as_json: bool) -> None:
    if as_json:
        echo_json([asdict(s) for s in statuses], stream=out)
        return
    table = Table(title="legacy app")
    for col in ("service", "pid", "port", "running", "healthy", "log"):
        table.add_column(col)
    for s in statuses:
        table.add_row(
            s.service,
            str(s.pid or "-"),
            str(s.port or "-"),
            str(s.running),
            str(s.healthy),
            s.log_path,
        )
    Console(file=out).print(table)


def app_up(
    out: IO[str],
    *,
    database: str | None = None,
    ports: Mapping[str, int] | None = None,
    run_dir: Path | None = None,
    as_json: bool = False,
) -> list[ServiceStatus]:
    """Create the schema, seed the catalogue and start every service."""
    try:
        statuses = start_services(default_spec(database, ports=ports, run_dir=run_dir))
    except LegacyAppError as exc:
        raise AppCommandFailed(str(exc), hint=exc.hint) from exc
    _print(statuses, out, as_json)
    return statuses


def app_down(out: IO[str], *, run_dir: Path | None = None, as_json: bool = False) -> list[str]:
    """Stop every service started by ``app up``."""
    stopped = stop_services(_run_dir(run_dir))
    if as_json:
        echo_json({"stopped": stopped}, stream=out)
    else:
        out.write(f"stopped: {', '.join(stopped) or 'nothing was running'}\n")
    return stopped


def app_status(
    out: IO[str], *, run_dir: Path | None = None, as_json: bool = False
) -> list[ServiceStatus]:
    """Process and health of every service."""
    statuses = service_status(_run_dir(run_dir))
    _print(statuses, out, as_json)
    return statuses


@click.group("app")
def app() -> None:
    """The sample monolith (order, inventory, payment, shipping, email services)."""


@app.command("up")
@click.option("--database", default=None, help="Database name on the stack's Postgres.")
@click.option(
    "--port", "port_pairs", multiple=True, metavar="SERVICE=PORT", help="Override a port."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def up(database: str | None, port_pairs: tuple[str, ...], as_json: bool) -> None:
    """Create the schema, seed, start the services and wait until they are healthy.

    Faults and tuning come from the environment (``CUTOVER_FAULT_PAYMENT_ERROR_RATE=0.1``,
    ``CUTOVER_FAULT_CRASH_BEFORE_PRODUCE=0.05``, ``CUTOVER_HTTP_READ_TIMEOUT=1``...).
    """
    ports: dict[str, int] = {}
    for pair in port_pairs:
        service, sep, port = pair.partition("=")
        if not sep or not port.isdigit():
            raise click.BadParameter(f"{pair!r} is not SERVICE=PORT", param_hint="--port")
        ports[service.strip()] = int(port)
    app_up(sys.stdout, database=database, ports=ports, as_json=as_json)


@app.command("down")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def down(as_json: bool) -> None:
    """Stop the services."""
    app_down(sys.stdout, as_json=as_json)


@app.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(as_json: bool) -> None:
    """Show whether each service runs and answers /health; exit 7 when one does not."""
    statuses = app_status(sys.stdout, as_json=as_json)
    if not all(s.healthy for s in statuses):
        raise click.exceptions.Exit(ExitCode.UNHEALTHY)
