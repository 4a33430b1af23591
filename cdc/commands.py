"""The ``cutover connectors`` commands as plain functions (the CLI is a thin layer over them).

Each takes a :class:`~cdc.client.ConnectClient`, an output stream and
``as_json``; each returns the process exit code (see :mod:`cdc.cli`).
Nothing here prints a secret: configs are shown redacted and JSON goes
through :func:`cutover_common.cli.echo_json`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

from cdc import reconcile
from cdc.client import Config, ConnectClient
from cdc.desired import DesiredConnector, load_desired_file
from cdc.errors import EXIT_DRIFT, EXIT_INVALID_CONFIG, EXIT_UNHEALTHY
from cdc.health import HealthThresholds, SlotProbe, check_health
from cdc.models import OffsetEntry
from cdc.recover import CaptureDatabase, EventLog, RecoveryOptions, RecoveryReport
from cdc.recover import recover as recover_connector
from cutover_common.cli import echo_json
from cutover_common.exit_codes import ExitCode
from cutover_common.secrets import redact

OK = 0


def _console(out: TextIO) -> Console:
    return Console(file=out, width=140, highlight=False, soft_wrap=True)


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], out: TextIO) -> None:
    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*(redact("" if v is None else str(v)) for v in row))
    _console(out).print(table)


def list_connectors(client: ConnectClient, out: TextIO, *, as_json: bool = False) -> int:
    """Every connector with its class, state and task states."""
    rows = client.list_connectors_expanded()
    if as_json:
        echo_json(
            [
                {
                    "name": r.name,
                    "class": r.info.config.get("connector.class") if r.info else None,
                    "status": r.status.to_dict() if r.status else None,
                }
                for r in rows
            ],
            stream=out,
        )
        return OK
    _table(
        "connectors",
        ["name", "class", "state", "tasks"],
        [
            (
                r.name,
                (r.info.config.get("connector.class", "") if r.info else "").rsplit(".", 1)[-1],
                r.status.state if r.status else "?",
                ", ".join(f"{t.id}:{t.state}" for t in r.status.tasks) if r.status else "",
            )
            for r in rows
        ],
        out,
    )
    return OK


def plugins(
    client: ConnectClient, out: TextIO, *, as_json: bool = False, all_types: bool = False
) -> int:
    """Installed connector plugins (and transforms/converters with ``all_types``)."""
    found = client.plugins(connectors_only=not all_types)
    if as_json:
        echo_json(
            [{"class": p.class_name, "type": p.type, "version": p.version} for p in found],
            stream=out,
        )
    else:
        _table(
            "plugins",
            ["class", "type", "version"],
            [(p.class_name, p.type, p.version) for p in found],
            out,
        )
    return OK


def status(
    client: ConnectClient,
    name: str,
    out: TextIO,
    *,
    as_json: bool = False,
    probe: SlotProbe | None = None,
    heartbeat_table: str | None = None,
    thresholds: HealthThresholds | None = None,
) -> int:
    """Connector, every task, the slot (with a probe; without one the slot is unknown) and
    heartbeat; exit 7 when unhealthy, 6 when only the slot could not be checked."""
    current = client.status(name)
    health = check_health(
        client,
        name,
        probe=probe,
        heartbeat_table=heartbeat_table,
        thresholds=thresholds,
        require_slot=True,
    )
    if as_json:
        echo_json({"status": current.to_dict(), "health": health.to_dict()}, stream=out)
    else:
        rows: list[tuple[Any, ...]] = [
            ("connector", current.state, current.worker_id, _first_line(current.trace))
        ]
        rows += [
            (f"task {t.id}", t.state, t.worker_id, _first_line(t.trace)) for t in current.tasks
        ]
        _table(f"{name}", ["part", "state", "worker", "trace"], rows, out)
        if health.slot_name and probe is not None:
            out.write(
                f"slot {health.slot_name}: active={health.slot_active} "
                f"lag={health.slot_lag_bytes} bytes retained={health.slot_retained_bytes} bytes\n"
            )
        if health.heartbeat_age_s is not None:
            out.write(f"heartbeat age: {health.heartbeat_age_s:.1f}s\n")
        out.write(("healthy" if health.ok else "UNHEALTHY: " + "; ".join(health.reasons)) + "\n")
    if health.ok:
        return OK
    return int(ExitCode.INCONCLUSIVE) if health.unknown else EXIT_UNHEALTHY


def recover(
    client: ConnectClient,
    name: str,
    out: TextIO,
    db: CaptureDatabase,
    *,
    events: EventLog | None = None,
    options: RecoveryOptions | None = None,
    as_json: bool = False,
) -> int:
    """Recreate a lost slot and publication, resume from the new slot, backfill only the gap
    (:mod:`cdc.recover`); prints each step and the gap's size."""

    def say(line: str) -> None:
        if not as_json:
            out.write(line + "\n")

    report = recover_connector(client, name, db, events=events, options=options, say=say)
    if as_json:
        echo_json(report.to_dict(), stream=out)
    else:
        out.write(_recovery_summary(report) + "\n")
    return OK


def _recovery_summary(report: RecoveryReport) -> str:
    delivered = (
        "unknown (no Kafka to check: each may be sent again)"
        if report.delivered_in_window is None
        else str(report.delivered_in_window)
    )
    done = "would be backfilled (dry run)" if report.dry_run else "backfilled"
    lines = [
        f"gap: {report.gap} outbox row(s) {done}, created {report.since.isoformat()} "
        f"to {report.until.isoformat()} (the last recorded change minus the margin, to the "
        "new slot)",
        f"rows in that window already on Kafka: {delivered}; sent again: "
        f"{'unknown' if report.may_reemit is None else report.may_reemit}",
        f"recovered in {report.seconds:.1f}s; compare outcomes now (`cutover compare`)",
    ]
    if report.rows_in_window == 0:
        lines.append(
            "no outbox rows in the window: if your application deletes outbox rows after "
            "writing them, the gap cannot be backfilled from the outbox"
        )
    return "\n".join(lines)


def _first_line(trace: str | None) -> str:
    return (trace or "").strip().splitlines()[0][:120] if trace else ""


def diff(
    client: ConnectClient,
    desired: Sequence[DesiredConnector],
    out: TextIO,
    *,
    as_json: bool = False,
) -> int:
    """The readable config diff against the live cluster; exit 11 when anything drifts."""
    diffs = reconcile.diff(client, desired)
    if as_json:
        echo_json(
            {"drift": any(d.drift for d in diffs), "connectors": [d.to_dict() for d in diffs]},
            stream=out,
        )
    else:
        out.write("\n".join(d.render() for d in diffs) + "\n")
    return EXIT_DRIFT if any(d.drift for d in diffs) else OK


def apply(
    client: ConnectClient,
    desired: Sequence[DesiredConnector],
    out: TextIO,
    *,
    dry_run: bool = False,
    validate: bool = True,
    as_json: bool = False,
    allow_resnapshot: bool = False,
) -> int:
    """Bring the cluster to the desired connectors.

    ``dry_run`` shows the plan, changes nothing and exits 11 when anything would change. A
    change that would republish a running connector's outbox is refused (exit 10) unless
    ``allow_resnapshot``.
    """
    result = reconcile.apply(
        client, desired, dry_run=dry_run, validate=validate, allow_resnapshot=allow_resnapshot
    )
    if as_json:
        echo_json(
            {
                "dry_run": result.dry_run,
                "drift": result.drift,
                "performed": list(result.performed),
                "connectors": [d.to_dict() for d in result.diffs],
            },
            stream=out,
        )
    else:
        out.write("\n".join(d.render() for d in result.diffs) + "\n")
        if dry_run:
            out.write("dry run: nothing changed\n")
        for line in result.performed:
            out.write(f"done: {line}\n")
    return EXIT_DRIFT if dry_run and result.drift else OK


def validate(
    client: ConnectClient, configs: dict[str, Config], out: TextIO, *, as_json: bool = False
) -> int:
    """Validate configs with the worker; per-field errors are printed; exit 2 when any."""
    results = {name: client.validate(cfg, name=name) for name, cfg in configs.items()}
    if as_json:
        echo_json(
            {
                n: {
                    "ok": r.ok,
                    "error_count": r.error_count,
                    "errors": {k: list(v) for k, v in r.errors.items()},
                }
                for n, r in results.items()
            },
            stream=out,
        )
    else:
        rows = [(n, k, " / ".join(v)) for n, r in results.items() for k, v in r.errors.items()]
        if rows:
            _table("validation errors", ["connector", "field", "errors"], rows, out)
        for n, r in results.items():
            out.write(f"{n}: {'valid' if r.ok else f'{r.error_count} error(s)'}\n")
    return OK if all(r.ok for r in results.values()) else EXIT_INVALID_CONFIG


def load_configs(file: Path) -> dict[str, Config]:
    """Configs to validate: a desired-connectors YAML, or one raw JSON config (``name`` inside)."""
    if file.suffix == ".json":
        raw = json.loads(file.read_text())
        return {
            str(raw.get("name", file.stem)): {k: str(v) for k, v in raw.get("config", raw).items()}
        }
    return {d.name: d.config for d in load_desired_file(file)}


def restart(
    client: ConnectClient,
    name: str,
    out: TextIO,
    *,
    include_tasks: bool = False,
    only_failed: bool = False,
    task: int | None = None,
    as_json: bool = False,
) -> int:
    """Restart the connector (optionally its tasks, or only the failed ones), or one task."""
    if task is not None:
        client.restart_task(name, task)
        result: dict[str, Any] = {"connector": name, "restarted_task": task}
    else:
        state = client.restart(name, include_tasks=include_tasks, only_failed=only_failed)
        result = {"connector": name, "status": state.to_dict() if state else None}
    if as_json:
        echo_json(result, stream=out)
    else:
        out.write(
            f"restart requested for {name}" + (f" task {task}" if task is not None else "") + "\n"
        )
    return OK


def lifecycle(
    client: ConnectClient, action: str, name: str, out: TextIO, *, as_json: bool = False
) -> int:
    """``pause``, ``resume``, ``stop`` or ``delete`` one connector."""
    calls = {
        "pause": client.pause,
        "resume": client.resume,
        "stop": client.stop,
        "delete": client.delete_connector,
    }
    calls[action](name)
    if as_json:
        echo_json({"connector": name, "action": action}, stream=out)
    else:
        out.write(f"{action}: {name}\n")
    return OK


def offsets(
    client: ConnectClient,
    name: str,
    out: TextIO,
    *,
    reset: bool = False,
    set_file: Path | None = None,
    as_json: bool = False,
) -> int:
    """Show offsets; or (connector STOPPED) reset them or set them from a JSON file."""
    message = None
    if reset:
        message = client.reset_offsets(name)
    elif set_file is not None:
        body = json.loads(set_file.read_text())
        entries = [OffsetEntry(e["partition"], e.get("offset")) for e in body.get("offsets", body)]
        message = client.alter_offsets(name, entries)
    current = client.get_offsets(name)
    if as_json:
        echo_json({"connector": name, "message": message, **current.to_json()}, stream=out)
    else:
        if message:
            out.write(message + "\n")
        _table(
            f"{name} offsets",
            ["partition", "offset"],
            [
                (
                    json.dumps(dict(e.partition), sort_keys=True),
                    json.dumps(e.offset, sort_keys=True),
                )
                for e in current.entries
            ],
            out,
        )
    return OK
