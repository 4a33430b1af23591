"""``cutover outbox``: the application's outbox table (thin over :mod:`cutover.commands`)."""

from __future__ import annotations

from pathlib import Path

import click

from cutover.commands import OutboxCommandConfig, outbox_init, outbox_purge
from cutover_common.cli import json_option, plan_option


@click.group("outbox")
def outbox() -> None:
    """The transactional outbox table of the application's database."""


@outbox.command("init")
@plan_option()
@click.option("--sql", "sql_only", is_flag=True, help="print the DDL; connect to nothing")
@json_option
def init_cmd(plan_path: Path, sql_only: bool, as_json: bool) -> None:
    """Create the outbox table (idempotent), or adopt an existing one whose columns match.

    A table that differs is never altered: each conflict is named and the exit code is 2.
    """
    code = outbox_init(OutboxCommandConfig(plan_path=plan_path, json=as_json), sql_only=sql_only)
    if code:
        raise SystemExit(code)


@outbox.command("purge")
@click.option(
    "--older-than",
    required=True,
    metavar="DURATION",
    help="purge rows whose created_at is older than this (e.g. 7d, 12h, 30m)",
)
@plan_option()
@click.option("--dry-run", is_flag=True, help="count what would go; delete nothing")
@click.option(
    "--wait",
    "wait_s",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="seconds to wait for the slot to confirm the rows captured",
)
@click.option(
    "--shadow",
    is_flag=True,
    help="the shadow store's outbox (the plan's shadow_outbox:), by its own slot",
)
@json_option
def purge_cmd(
    *, older_than: str, plan_path: Path, dry_run: bool, wait_s: float, shadow: bool, as_json: bool
) -> None:
    """Delete outbox rows older than DURATION that Debezium has already captured.

    Only rows the replication slot has confirmed go: the purge waits (--wait) until the
    slot's confirmed position passes every row it would delete; a missing, stopped or
    lagging slot purges nothing and exits non-zero with the reason (see docs/app-sdk.md).
    --shadow purges the shadow outbox of follow-up events by its own slot, alike.
    """
    config = OutboxCommandConfig(plan_path=plan_path, json=as_json)
    code = outbox_purge(config, older_than, dry_run=dry_run, wait_s=wait_s, shadow=shadow)
    if code:
        raise SystemExit(code)
