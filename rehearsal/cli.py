"""`cutover smoke` — the end-to-end smoke check of the local stack."""

from __future__ import annotations

import sys
import time
from dataclasses import asdict

import click

from cutover_common.cli import echo_json, json_option
from cutover_common.exit_codes import ExitCode


@click.command()
@json_option
def smoke(as_json: bool) -> None:
    """Bring the stack up and send one outbox row through Debezium to Kafka."""
    from rehearsal.smoke import run_smoke
    from rehearsal.stack import manager
    from rehearsal.stack.endpoints import load_endpoints
    from rehearsal.stack.topology import load_topology

    t0 = time.monotonic()
    topo = load_topology()
    report = manager.up(topo)
    result = run_smoke(load_endpoints(topo))
    total = time.monotonic() - t0
    if as_json:
        echo_json(
            {"stack_seconds": report.seconds, "smoke": asdict(result), "total_seconds": total}
        )
        return
    click.echo(f"stack up in {report.seconds:.1f}s")
    click.echo(
        f"smoke passed: outbox row -> Debezium -> topic {result.topic}, key {result.key}, "
        f"event id {result.event_id}, type {result.headers.get('type')}, in {result.seconds:.1f}s"
    )
    click.echo(f"took {total:.1f}s")
    sys.stdout.flush()


@click.command()
@click.option(
    "--system",
    "system_path",
    help="The system to migrate: a directory holding rehearsal.py with its adapter SYSTEM "
    "(e.g. examples/helpdesk), or module:attribute. Default: the sample monolith.",
)
@click.option(
    "--scenario",
    help="Bundled scenario name or a YAML file (default: the system's own default scenario).",
)
@click.option(
    "--rate",
    type=float,
    help="Orders per second during each phase's traffic (overrides the scenario).",
)
@click.option(
    "--seconds", type=float, help="Seconds of traffic per phase (overrides the scenario)."
)
@click.option(
    "--keep",
    is_flag=True,
    help="Keep the rehearsal's database, app, connector and shadow workers running afterwards.",
)
@click.option("--cleanup", is_flag=True, help="Only remove what rehearsals kept with --keep left.")
@json_option
def rehearse(  # noqa: PLR0917 - click passes options positionally
    system_path: str | None,
    scenario: str | None,
    rate: float | None,
    seconds: float | None,
    keep: bool,
    cleanup: bool,
    as_json: bool,
) -> None:
    """Rehearse the migration of a system (the sample monolith unless --system), phase 1
    to 5, on the local stack.

    Exit 0 only when every gate passed honestly; 4 when a gate did not pass; 2 for an
    invalid scenario or --system. A scenario that expects a failure (`negative`) exits 0 when the
    expected gate failed and the report names it, 4 when it did not. With --keep the
    database, app, connector and shadow workers keep running until --cleanup.
    """
    from rich.console import Console

    from rehearsal.run import RehearseOptions
    from rehearsal.run import rehearse as run_rehearsal
    from rehearsal.scenario import load_scenario
    from rehearsal.stack.topology import load_topology
    from rehearsal.summary import diff_paths, render_table, write_report
    from rehearsal.system import load_system

    system = load_system(system_path)
    topo = load_topology()
    if cleanup:
        from rehearsal.environment import cleanup_kept

        cleaned = cleanup_kept(topo, system)
        if as_json:
            echo_json({"cleaned": cleaned})
        else:
            click.echo(f"cleaned rehearsals: {', '.join(cleaned) or 'none'}")
        return
    scen = load_scenario(scenario or str(system.default_scenario))
    console = Console(file=sys.stderr if as_json else sys.stdout)
    with console.status("rehearsing...") as status:

        def say(line: str) -> None:
            status.update(line)
            console.log(line)

        result = run_rehearsal(
            topo,
            RehearseOptions(scen, keep=keep, rate=rate, seconds=seconds, system=system),
            say=say,
        )
    paths = write_report(result, topo.state_dir / "rehearsals" / result.run_id, scen.description)
    result.report_paths = [str(p) for p in paths]
    if as_json:
        echo_json(result.to_dict())
    else:
        render_table(result, sys.stdout)
    expected_fail = scen.expect.outcome == "fail"
    if expected_fail:
        field = scen.expect.failing_key_field or ""
        ok = not result.passed and any(field in diff_paths(s) for s in result.failing_keys)
        click.echo(f"negative scenario: expected failure {'observed' if ok else 'NOT observed'}")
        sys.exit(ExitCode.OK if ok else ExitCode.FAIL)
    sys.exit(ExitCode.OK if result.passed else ExitCode.FAIL)
