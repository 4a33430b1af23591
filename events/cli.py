"""``cutover events``: list the catalogue, validate event files, check schema compatibility."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import cast

import click

from events.compat import MODES, CompatMode
from events.operations import check_compat_refs, list_types, validate_file


@click.group("events")
def events() -> None:
    """Event contracts: catalogue, validation, schema compatibility."""


@events.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def list_command(ctx: click.Context, as_json: bool) -> None:
    """List every event, integration event and command type with its versions."""
    ctx.exit(list_types(sys.stdout, as_json=as_json))


@events.command("validate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def validate_command(ctx: click.Context, file: Path, as_json: bool) -> None:
    """Validate the envelopes in FILE (a JSON object, an array, or JSON lines).

    Old versions are upcast first. Exits 2 when any envelope is invalid.
    """
    ctx.exit(validate_file(file, sys.stdout, as_json=as_json))


@events.command("check-compat")
@click.argument("old")
@click.argument("new")
@click.option("--mode", type=click.Choice(MODES), default="full", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def check_compat_command(ctx: click.Context, old: str, new: str, mode: str, as_json: bool) -> None:
    """Check that schema NEW does not break consumers or data of schema OLD.

    OLD and NEW are schema files or packaged references such as
    ``integration.customer.created@1``. Exits 4 when a change is breaking.
    """
    code = check_compat_refs(old, new, sys.stdout, mode=cast(CompatMode, mode), as_json=as_json)
    ctx.exit(code)
