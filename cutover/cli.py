"""``cutover outbox``: the application's outbox table (thin over :mod:`cutover.commands`)."""

from __future__ import annotations

from pathlib import Path

import click

from cutover.commands import DEFAULT_PLAN, OutboxCommandConfig, outbox_init


@click.group("outbox")
def outbox() -> None:
    """The transactional outbox table of the application's database."""


@outbox.command("init")
@click.option(
    "--plan",
    "plan_path",
    envvar="CUTOVER_PLAN",
    default=DEFAULT_PLAN,
    show_default=True,
    type=click.Path(path_type=Path),
    help="migration plan (its outbox: block and system.database.url_env)",
)
@click.option("--sql", "sql_only", is_flag=True, help="print the DDL; connect to nothing")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def init_cmd(plan_path: Path, sql_only: bool, as_json: bool) -> None:
    """Create the outbox table (idempotent), or adopt an existing one whose columns match.

    A table that differs is never altered: each conflict is named and the exit code is 2.
    """
    code = outbox_init(OutboxCommandConfig(plan_path=plan_path, json=as_json), sql_only=sql_only)
    if code:
        raise SystemExit(code)
