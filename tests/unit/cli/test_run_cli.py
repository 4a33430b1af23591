"""run_cli, the one error boundary: every way out of a command becomes a row of ExitCode."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import click
import structlog

from cutover_common.cli import unexpected_error_line
from cutover_common.errors import CutoverError
from cutover_common.exit_codes import ExitCode
from phases.errors import TransitionLocked, UnknownContext
from tests.unit.cli.conftest import run

SECRET_URL = "postgresql://cutover:s3cr3t-pw@db.internal/legacy"


@click.group()
def toy() -> None:
    """A group whose commands leave in every way a real command can."""


@toy.command("boom")
def boom() -> None:
    raise RuntimeError(f"could not connect to {SECRET_URL} password=hunter22\n[SQL: SELECT 1]")


@toy.command("locked")
def locked() -> None:
    raise TransitionLocked("bob@ops")


@toy.command("unknown")
def unknown() -> None:
    raise UnknownContext("billing", ["order", "payment"])


@toy.command("ctrl-c")
def ctrl_c() -> None:
    raise KeyboardInterrupt


@toy.command("sys-exit")
@click.argument("code")
def sys_exit(code: str) -> None:
    sys.exit(int(code) if code.isdigit() else code)


@toy.command("fine")
@click.pass_context
def fine(ctx: click.Context) -> None:
    ctx.exit(ExitCode.WARN)


def test_an_unexpected_exception_is_one_redacted_line_and_exit_1() -> None:
    ran = run(toy, ["boom"])
    assert ran.code == ExitCode.ERROR == 1
    assert ran.err.splitlines() == [
        "error: unexpected RuntimeError: could not connect to "
        "postgresql://cutover:***@db.internal/legacy password=*** "
        "(run with --debug for the traceback)"
    ]


def test_debug_shows_the_traceback_redacted() -> None:
    ran = run(toy, ["--debug", "boom"])
    assert ran.code == 1
    assert ran.err.startswith("Traceback (most recent call last):")
    assert 'raise RuntimeError(f"could not connect to' in ran.err
    assert "s3cr3t-pw" not in ran.err and "hunter22" not in ran.err
    assert ran.err.splitlines()[-1] == (
        "error: unexpected RuntimeError: could not connect to "
        "postgresql://cutover:***@db.internal/legacy password=***"
    )


def test_a_toolkit_error_is_one_line_with_its_own_code() -> None:
    assert run(toy, ["locked"]).code == ExitCode.CONFLICT
    ran = run(toy, ["unknown"])
    assert (ran.code, ran.err) == (
        ExitCode.NOT_FOUND,
        "error: unknown context 'billing'; the plan defines order, payment\n",
    )


def test_ctrl_c_exits_130() -> None:
    ran = run(toy, ["ctrl-c"])
    assert (ran.code, ran.err.strip()) == (ExitCode.INTERRUPTED, "interrupted")


def test_sys_exit_inside_a_command_keeps_its_code() -> None:
    assert run(toy, ["sys-exit", "7"]).code == 7
    ran = run(toy, ["sys-exit", "bad thing token=abc123"])
    assert (ran.code, ran.err) == (1, "error: bad thing token=***\n")


def test_ctx_exit_code_is_returned() -> None:
    assert run(toy, ["fine"]).code == ExitCode.WARN


def test_a_usage_error_is_2() -> None:
    assert run(toy, ["sys-exit"]).code == ExitCode.INVALID_INPUT


def test_the_unexpected_line_of_an_empty_message_names_only_the_type() -> None:
    assert unexpected_error_line(ValueError()) == (
        "error: unexpected ValueError (run with --debug for the traceback)"
    )


def test_toolkit_errors_default_to_exit_1() -> None:
    assert CutoverError("x").exit_code == ExitCode.ERROR


def test_running_the_root_command_in_process_leaves_logging_as_it_was(tmp_path: Path) -> None:
    from phases.cli import cli

    before = structlog.get_config()
    mine = io.StringIO()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=mine))
    try:
        run(cli, ["stack", "down", "--json"], env={"CUTOVER_STATE_DIR": str(tmp_path)})
        structlog.get_logger("after").warning("still_logging")
    finally:
        structlog.configure(**before)
    assert "still_logging" in mine.getvalue()  # not in the run's closed capture stream
