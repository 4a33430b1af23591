"""Helpers to run the whole ``cutover`` binary in-process, through its one error boundary."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import click
import structlog
from click.testing import CliRunner

from cutover_common.cli import run_cli


@dataclass(frozen=True, slots=True)
class Ran:
    """What one command line did: exit code, stdout, stderr."""

    code: int
    out: str
    err: str


def run(group: click.Group, args: list[str], env: dict[str, str] | None = None) -> Ran:
    """Run ``args`` through :func:`run_cli` (as the console script does), capturing output.

    The root command configures structlog onto the captured stderr, which is closed
    afterwards: the configuration is restored so that later tests still log.
    """
    saved = structlog.get_config()
    try:
        with CliRunner(env=env).isolation() as (out, err, _):
            code = run_cli(group, args)
    finally:
        structlog.configure(**saved)
    return Ran(code, out.getvalue().decode(), err.getvalue().decode())


def walk(
    command: click.Command, path: tuple[str, ...] = (), parent: click.Context | None = None
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command of the binary with its path, groups included (lazily loaded ones too)."""
    ctx = click.Context(command, parent=parent, info_name=path[-1] if path else "cutover")
    yield path, command
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, f"{' '.join((*path, name))} does not load"
            yield from walk(sub, (*path, name), ctx)
