"""``cutover init`` (thin over :func:`cutover.state.commands.init`)."""

from __future__ import annotations

from pathlib import Path

import click

from cutover_common.cli import json_option, plan_option


@click.command("init")
@plan_option()
@click.option(
    "--state-url",
    envvar="CUTOVER_STATE_URL",
    default=None,
    help="state database SQLAlchemy URL (default: the plan's state_url_env, else its database)",
)
@click.option("--sql", "sql_only", is_flag=True, help="print the DDL; connect to nothing")
@json_option
def init_cmd(plan_path: Path, state_url: str | None, sql_only: bool, as_json: bool) -> None:
    """Create or upgrade cutover's own tables (schema `system.state_schema`, default
    `cutover`) with alembic; idempotent. Tables of the earlier layout (in `public`) have their
    rows moved in. Every other command that reads the state refuses until this ran (exit 14).
    """
    import logging

    # alembic's INFO lines (plugins, contexts, each revision) are not the operator's: the
    # command says what it did. Set before alembic is imported (its plugins log on import).
    logging.getLogger("alembic").setLevel(logging.WARNING)

    from cutover.state.commands import init
    from phases.cli_commands import _logging
    from phases.commands import CommandConfig

    _logging()

    code = init(
        CommandConfig(plan_path=plan_path, state_url=state_url, json=as_json), sql_only=sql_only
    )
    if code:
        raise SystemExit(code)
