"""``cutover outbox ...`` as plain functions: each takes an :class:`OutboxCommandConfig` and
returns the exit code (the click layer in :mod:`cutover.cli` only parses options)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from cutover.errors import OutboxConfigError, OutboxTableConflict, PurgeRefused
from cutover.provision import init_outbox
from cutover_common.cli import DEFAULT_PLAN, echo_json
from cutover_common.exit_codes import ExitCode
from phases.outbox_connectors import (
    OutboxConnector,
    application_connector,
    shadow_outbox_connector,
)
from phases.plan import Plan, load_plan


def _stdout() -> TextIO:
    return sys.stdout


def _stderr() -> TextIO:
    return sys.stderr


@dataclass
class OutboxCommandConfig:
    """What the outbox commands need; tests give StringIO streams and their own environ."""

    plan_path: Path = Path(DEFAULT_PLAN)
    json: bool = False
    stdout: TextIO = field(default_factory=_stdout)
    stderr: TextIO = field(default_factory=_stderr)
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))


def database_url(
    config: OutboxCommandConfig, plan: Plan, target: OutboxConnector | None = None
) -> str:
    """The application database's URL, from the plan's ``system.database.url_env``, or the
    database of ``target`` (the shadow outbox's: ``shadow_outbox.database.url_env``)."""
    name, field = plan.system.database.url_env, "system.database.url_env"
    if target is not None and target.url_env != name:
        name, field = target.url_env, f"{target.block}.database.url_env"
    url = config.environ.get(name)
    if not url:
        raise OutboxConfigError(
            f"environment variable {name} is not set ({field})",
            hint="export it (the database's URL)",
        )
    return url


def outbox_init(config: OutboxCommandConfig, *, sql_only: bool = False) -> int:
    """Create the plan's outbox table, or print its DDL (``sql_only``: connects to nothing).

    An existing table is adopted when its columns match the ``outbox:`` block; otherwise
    each conflict is named on a line of its own and the exit code is 2 (nothing altered).
    """
    plan = load_plan(config.plan_path)
    layout = plan.outbox.layout()
    if sql_only:
        from cdc.outbox_table import ddl_script

        script = ddl_script(layout)
        if config.json:
            echo_json({"table": layout.table, "sql": script}, stream=config.stdout)
        else:
            config.stdout.write(script)
        return ExitCode.OK
    try:
        result = init_outbox(database_url(config, plan), layout)
    except OutboxTableConflict as exc:
        _conflicts(config, exc)
        return ExitCode.INVALID_INPUT
    if config.json:
        echo_json(result.to_dict(), stream=config.stdout)
    else:
        what = "created" if result.created else "exists and matches the outbox block; adopted"
        index = "; aggregate-version index created" if result.index_created else ""
        config.stdout.write(f"outbox table {result.table} {what}{index}\n")
    return ExitCode.OK


def _conflicts(config: OutboxCommandConfig, exc: OutboxTableConflict) -> None:
    if config.json:
        echo_json(
            {"table": exc.table, "status": "conflict", "conflicts": exc.problems},
            stream=config.stdout,
        )
        return
    config.stderr.write(
        f"outbox table {exc.table} does not match the plan's outbox block (not altered):\n"
    )
    for problem in exc.problems:
        config.stderr.write(f"  {problem}\n")
    config.stderr.write(f"{exc.hint}\n")


def outbox_purge(
    config: OutboxCommandConfig,
    older_than: str,
    *,
    dry_run: bool = False,
    wait_s: float = 30.0,
    shadow: bool = False,
) -> int:
    """Delete the plan's outbox rows older than ``older_than`` that the plan's replication
    slot has captured (``cutover.purge``: the rule); ``dry_run`` counts and deletes nothing.
    ``shadow``: the shadow store's outbox (``shadow_outbox:``) instead, by its own slot.

    Refusals (no slot, a slot inactive or not caught up within ``wait_s``) print one line
    and return their exit code, having deleted nothing.
    """
    from cutover.purge import parse_duration, purge_outbox

    age = parse_duration(older_than)
    plan = load_plan(config.plan_path)
    target = _purged_outbox(plan, shadow=shadow)
    slot = target.slot_name
    try:
        result = purge_outbox(
            database_url(config, plan, target),
            target.layout,
            slot,
            age,
            dry_run=dry_run,
            wait_s=wait_s,
        )
    except PurgeRefused as exc:
        if config.json:
            echo_json(
                {"status": "refused", "purged": 0, "reason": exc.reason}, stream=config.stdout
            )
        else:
            config.stderr.write(f"{exc.one_line()}\n")
        return int(exc.exit_code)
    if config.json:
        echo_json(result.to_dict(), stream=config.stdout)
        return ExitCode.OK
    verb = "would purge" if dry_run else "purged"
    count = result.candidates if dry_run else result.purged
    config.stdout.write(
        f"{verb} {count} rows of {result.table} older than {older_than.strip()} "
        f"(captured: slot {slot} confirmed {result.confirmed_lsn or '-'}"
        f" >= {result.required_lsn})\n"
        if result.candidates
        else f"nothing to purge: no row of {result.table} is older than {older_than.strip()}\n"
    )
    return ExitCode.OK


def _purged_outbox(plan: Plan, *, shadow: bool) -> OutboxConnector:
    """The outbox a purge works on, with the slot that proves its rows captured."""
    if not shadow:
        return application_connector(plan)
    found = shadow_outbox_connector(plan)
    if found is None:
        raise OutboxConfigError(
            "--shadow: the plan declares no shadow_outbox block",
            hint="declare shadow_outbox: (its table, connector and slot) in the plan",
        )
    return found
