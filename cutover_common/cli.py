"""The `cutover` command's shared machinery: a lazily loading group and one error boundary.

Each package owns its commands in its own ``cli.py`` (a click command or group);
the root group in :mod:`phases.cli` names them here by import path, so a
command's package is imported only when that command runs.
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from cutover_common.errors import CutoverError
from cutover_common.secrets import redact, redact_value

F = TypeVar("F", bound=Callable[..., Any])


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported on first use.

    ``lazy`` maps a command name to ``"module.path:attribute"``.
    """

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module_name, attr = self.lazy[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attr)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self.lazy[cmd_name]} is not a click command")
            return command
        return super().get_command(ctx, cmd_name)


def echo_json(data: Any, *, stream: Any = None) -> None:
    """Print ``data`` as JSON for machines, with secrets redacted."""
    out = stream or sys.stdout
    out.write(json.dumps(redact_value(data), indent=2, sort_keys=True, default=str) + "\n")


def run_cli(group: click.Group, argv: Sequence[str] | None = None) -> int:
    """Run ``group``; toolkit errors become one redacted line on stderr and their exit code.

    ``--debug`` anywhere on the command line shows the traceback too.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        args.remove("--debug")
    try:
        # With standalone_mode=False click returns the code of ctx.exit(n) instead of raising.
        code = group.main(args=args, prog_name="cutover", standalone_mode=False)
    except CutoverError as exc:
        if debug:
            sys.stderr.write(redact(traceback.format_exc()))
        click.echo(f"error: {exc.one_line()}", err=True)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        click.echo("aborted", err=True)
        return 1
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    return code if isinstance(code, int) else 0
