"""The `cutover` command's shared machinery: a lazily loading group, shared options, one
error boundary.

Each package owns its commands in its own ``cli.py`` (a click command or group);
the root group in :mod:`phases.cli` names them here by import path, so a
command's package is imported only when that command runs. Every command exits
with a code of the one table in :mod:`cutover_common.exit_codes` (printed by
``cutover --help``); :func:`run_cli` is the boundary that turns whatever escapes a
command into one line and one of those codes.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from cutover_common.errors import CutoverError, PlanFileMissing
from cutover_common.exit_codes import ExitCode, table_text
from cutover_common.secrets import redact, redact_value

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_PLAN = "cutover-plan.yaml"
"""The plan file used when neither ``--plan`` nor ``$CUTOVER_PLAN`` names one."""
PLAN_ENV = "CUTOVER_PLAN"
EXIT_CODES_LINE = "Exit codes: see `cutover --help`."
"""The line every command's help ends with (the root's help prints the table)."""


def exit_codes_epilog() -> str:
    """The root group's epilog: the exit-code table, kept as is by click's formatter."""
    return "\b\nExit codes:\n" + table_text()


def document_exit_codes(command: click.Command) -> click.Command:
    """Give ``command`` (and every sub-command of a group) the exit-code line as its epilog,
    unless it has its own; returns ``command``."""
    if not command.epilog:
        command.epilog = EXIT_CODES_LINE
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            document_exit_codes(sub)
    return command


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
            return document_exit_codes(command)
        return super().get_command(ctx, cmd_name)


def _existing_plan(_ctx: click.Context, _param: click.Parameter, value: Path) -> Path:
    if not value.is_file():
        raise PlanFileMissing(str(value))
    return value


def plan_option(*, must_exist: bool = True) -> Callable[[F], F]:
    """``--plan PATH``: the migration plan, the same option on every command.

    Default ``$CUTOVER_PLAN``, then ``cutover-plan.yaml`` in the working directory. The
    value reaches the command as ``plan_path`` (a :class:`~pathlib.Path`); with
    ``must_exist`` a path naming no file is one line and exit 2 (:class:`PlanFileMissing`).
    """
    return click.option(
        "--plan",
        "plan_path",
        envvar=PLAN_ENV,
        default=DEFAULT_PLAN,
        type=click.Path(dir_okay=False, path_type=Path),
        callback=_existing_plan if must_exist else None,
        help=f"Migration plan file (default: ${PLAN_ENV}, then ./{DEFAULT_PLAN}).",
    )


json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
"""``--json``: print the result as JSON on stdout (logs stay on stderr)."""


def echo_json(data: Any, *, stream: Any = None) -> None:
    """Print ``data`` as JSON for machines, with secrets redacted."""
    out = stream or sys.stdout
    out.write(json.dumps(redact_value(data), indent=2, sort_keys=True, default=str) + "\n")
    out.flush()


def _one_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    first = lines[0] if lines else ""
    return first if len(first) <= 300 else first[:297] + "..."


def unexpected_error_line(exc: BaseException, *, hint: bool = True) -> str:
    """What the CLI prints for an exception that is not a :class:`CutoverError`: its type,
    the first line of its redacted message and (``hint``) how to see the traceback."""
    message = _one_line(redact(str(exc)))
    return (
        f"error: unexpected {type(exc).__name__}"
        + (f": {message}" if message else "")
        + (" (run with --debug for the traceback)" if hint else "")
    )


def _system_exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return ExitCode.OK
    if isinstance(exc.code, int):
        return exc.code
    click.echo(f"error: {_one_line(redact(str(exc.code)))}", err=True)
    return ExitCode.ERROR


def run_cli(group: click.Group, argv: Sequence[str] | None = None) -> int:
    """Run ``group`` and return its exit code (a row of :class:`ExitCode`).

    Toolkit errors print one redacted line and exit with their ``exit_code``; usage errors
    exit 2; Ctrl-C exits 130; any other exception prints one redacted line with its type
    and exits 1. ``--debug`` anywhere on the command line (or ``CUTOVER_DEBUG=1``) shows
    the redacted traceback too.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("CUTOVER_DEBUG") == "1"
    args = [a for a in args if a != "--debug"]
    try:
        # With standalone_mode=False click returns the code of ctx.exit(n) instead of raising.
        code = group.main(args=args, prog_name="cutover", standalone_mode=False)
    except CutoverError as exc:
        _traceback(debug)
        click.echo(f"error: {exc.one_line()}", err=True)
        return int(exc.exit_code)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.UsageError as exc:
        exc.show()
        return ExitCode.INVALID_INPUT
    except click.FileError as exc:
        exc.show()
        return ExitCode.INVALID_INPUT
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort as exc:  # click turns Ctrl-C (and EOF at a prompt) into Abort
        interrupted = isinstance(exc.__cause__, KeyboardInterrupt)
        click.echo("interrupted" if interrupted else "aborted", err=True)
        return ExitCode.INTERRUPTED if interrupted else ExitCode.ERROR
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return ExitCode.INTERRUPTED
    except SystemExit as exc:
        return _system_exit_code(exc)
    except Exception as exc:
        _traceback(debug)
        click.echo(unexpected_error_line(exc, hint=not debug), err=True)
        return ExitCode.ERROR
    return code if isinstance(code, int) else ExitCode.OK


def _traceback(debug: bool) -> None:
    if debug:
        sys.stderr.write(redact(traceback.format_exc()))
