"""``cutover events``: a team's contracts directory (``--contracts``, or the plan's);
validation; schema compatibility; registering a new contract version."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import cast

import click

from cutover_common.cli import json_option, plan_option
from cutover_common.errors import PlanFileMissing
from events.compat import MODES, CompatMode
from events.contract_commands import check_contracts, list_contracts, register_contract
from events.errors import ContractsNotNamed
from events.operations import check_compat_refs, list_no_contracts, validate_file
from events.registry import ContractRegistry

contracts_option = click.option(
    "--contracts",
    "contracts",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Contracts directory (<type>.v<N>.json files; default: the plan's contracts.dir).",
)
_plan = plan_option(must_exist=False)


def plan_contracts(ctx: click.Context, contracts: Path | None, plan_path: Path) -> Path | None:
    """``--contracts``, else the contracts directory of the plan (``--plan`` given, or the
    default plan file when it exists), else ``None``."""
    if contracts is not None:
        return contracts
    given = ctx.get_parameter_source("plan_path") != click.core.ParameterSource.DEFAULT
    if not plan_path.is_file():
        if given:
            raise PlanFileMissing(str(plan_path))
        return None
    from phases.plan import load_plan  # the one plan model; only when a plan is read

    return load_plan(plan_path).contracts_dir()


def _required(ctx: click.Context, contracts: Path | None, plan_path: Path) -> Path:
    directory = plan_contracts(ctx, contracts, plan_path)
    if directory is None:
        raise ContractsNotNamed()
    return directory


@click.group("events")
def events() -> None:
    """Event contracts: a team's contracts directory, validation, compatibility."""


@events.command("list")
@contracts_option
@_plan
@json_option
@click.pass_context
def list_command(
    ctx: click.Context, contracts: Path | None, plan_path: Path, as_json: bool
) -> None:
    """List every type of the contracts directory (--contracts, or the plan's) with its
    versions; with neither, nothing and a hint."""
    directory = plan_contracts(ctx, contracts, plan_path)
    if directory is None:
        ctx.exit(list_no_contracts(sys.stdout, as_json=as_json))
    ctx.exit(list_contracts(directory, sys.stdout, as_json=as_json))


@events.command("check")
@contracts_option
@_plan
@json_option
@click.pass_context
def check_command(
    ctx: click.Context, contracts: Path | None, plan_path: Path, as_json: bool
) -> None:
    """Check the whole contracts directory: names, JSON, schemas, versions 1..N, backward
    compatibility, upcasters. Exits 2 with one ``file: reason`` line per problem."""
    ctx.exit(check_contracts(_required(ctx, contracts, plan_path), sys.stdout, as_json=as_json))


@events.command("register")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@contracts_option
@_plan
@click.option("--type", "event_type", default=None, help="Event type (default: from FILE's name).")
@click.option(
    "--allow-breaking",
    is_flag=True,
    help="Register a version that cannot read the previous one's data (marks it x-cutover-breaking).",
)
@click.option("--dry-run", is_flag=True, help="Check and print what would happen; write nothing.")
@json_option
@click.pass_context
def register_command(  # noqa: PLR0917
    ctx: click.Context,
    file: Path,
    contracts: Path | None,
    plan_path: Path,
    event_type: str | None,
    allow_breaking: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Add the JSON Schema FILE as the next version of its type (<type>.json or
    <type>.v<N>.json) to the contracts directory, after checking it can read the previous
    version's data. Exits 10 (conflict) when it cannot, unless --allow-breaking."""
    code = register_contract(
        file,
        _required(ctx, contracts, plan_path),
        sys.stdout,
        event_type=event_type,
        allow_breaking=allow_breaking,
        dry_run=dry_run,
        as_json=as_json,
    )
    ctx.exit(code)


@events.command("validate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@contracts_option
@_plan
@json_option
@click.pass_context
def validate_command(
    ctx: click.Context, file: Path, contracts: Path | None, plan_path: Path, as_json: bool
) -> None:
    """Validate the envelopes in FILE (a JSON object, an array, or JSON lines) against the
    contracts directory. Old versions are upcast first. Exits 2 when any envelope is
    invalid, or when no contracts directory is named."""
    registry = ContractRegistry.load(_required(ctx, contracts, plan_path))
    ctx.exit(validate_file(file, registry, sys.stdout, as_json=as_json))


@events.command("check-compat")
@click.argument("old")
@click.argument("new")
@click.option("--mode", type=click.Choice(MODES), default="full", show_default=True)
@contracts_option
@_plan
@json_option
@click.pass_context
def check_compat_command(  # noqa: PLR0917
    ctx: click.Context,
    old: str,
    new: str,
    mode: str,
    contracts: Path | None,
    plan_path: Path,
    as_json: bool,
) -> None:
    """Check that schema NEW does not break consumers or data of schema OLD.

    OLD and NEW are schema files or references such as ``article.favorited@1`` into the
    contracts directory (--contracts, or the plan's). Exits 4 when a change is breaking,
    2 for a reference without a contracts directory.
    """
    directory = plan_contracts(ctx, contracts, plan_path)
    registry = None if directory is None else ContractRegistry.load(directory)
    code = check_compat_refs(
        old, new, sys.stdout, contracts=registry, mode=cast(CompatMode, mode), as_json=as_json
    )
    ctx.exit(code)
