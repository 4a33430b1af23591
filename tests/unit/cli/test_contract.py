"""The contract of the whole ``cutover`` binary, walked command by command.

Every command (groups and lazily loaded ones included) answers --help with exit 0 and
names where its exit codes are documented; an unknown option is a usage error, exit 2;
every command that prints a result takes --json; --plan means the same everywhere; the
README and ``cutover --help`` print the one exit-code table of :class:`ExitCode`.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import click
import pytest

from cutover_common.cli import DEFAULT_PLAN, EXIT_CODES_LINE, PLAN_ENV
from cutover_common.errors import CutoverError
from cutover_common.exit_codes import ExitCode, table_text
from phases.cli import cli
from tests.unit.cli.conftest import run, walk

README = Path(__file__).resolve().parents[3] / "README.md"
COMMANDS = list(walk(cli))
LEAVES = [(path, cmd) for path, cmd in COMMANDS if not isinstance(cmd, click.Group)]
SUBCOMMANDS = [(path, cmd) for path, cmd in COMMANDS if path]
# Commands that print no result of their own (none today): they need no --json.
PRINTS_NO_RESULT: frozenset[tuple[str, ...]] = frozenset()


def _name(path: tuple[str, ...]) -> str:
    return " ".join(path) or "cutover"


def test_the_walk_finds_every_package_s_commands() -> None:
    names = {_name(path) for path, _ in COMMANDS}
    assert {"stack up", "connectors status", "compare watch", "shadow run", "plan schema"} <= names
    assert {"advance", "rollback", "status", "history", "gate check", "rehearse"} <= names
    assert len(LEAVES) >= 40


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=_name)
def test_help_exits_0_and_points_to_the_exit_codes(path: tuple[str, ...]) -> None:
    ran = run(cli, [*path, "--help"])
    assert ran.code == 0, ran.err
    assert "Usage: cutover" in ran.out
    expected = "Exit codes:" if not path else EXIT_CODES_LINE.split("`")[0]
    assert expected in ran.out


@pytest.mark.parametrize("path", [p for p, _ in SUBCOMMANDS], ids=_name)
def test_an_unknown_option_is_invalid_input_exit_2(path: tuple[str, ...]) -> None:
    ran = run(cli, [*path, "--no-such-option"])
    assert ran.code == ExitCode.INVALID_INPUT == 2, ran.err
    assert "No such option '--no-such-option'" in ran.err


def test_an_unknown_command_is_invalid_input_exit_2() -> None:
    ran = run(cli, ["no-such-command"])
    assert (ran.code, "No such command 'no-such-command'" in ran.err) == (2, True)


@pytest.mark.parametrize("path", [p for p, _ in LEAVES], ids=_name)
def test_every_command_that_prints_a_result_takes_json(path: tuple[str, ...]) -> None:
    command = dict(COMMANDS)[path]
    flags = {opt for param in command.params for opt in getattr(param, "opts", [])}
    assert ("--json" in flags) != (path in PRINTS_NO_RESULT)


def test_plan_means_the_same_on_every_command() -> None:
    seen = []
    for path, command in LEAVES:
        for param in command.params:
            if "--plan" in getattr(param, "opts", []) or param.name == "plan_path":
                assert isinstance(param, click.Option), _name(path)
                assert (param.opts, param.name, param.envvar, param.default) == (
                    ["--plan"],
                    "plan_path",
                    PLAN_ENV,
                    DEFAULT_PLAN,
                ), _name(path)
                seen.append(_name(path))
    assert {"advance", "status", "history", "compare run", "repair", "plan validate"} <= set(seen)


def test_a_missing_plan_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    for args in (["status"], ["history"], ["compare", "run", "--context", "order"]):
        ran = run(cli, [*args, "--plan", str(missing)])
        assert ran.code == 2, (args, ran.err)
        assert ran.err.splitlines() == [
            f"error: no plan file at {missing} — give --plan PATH or set CUTOVER_PLAN "
            "(default: ./cutover-plan.yaml)"
        ]


def test_the_plan_comes_from_cutover_plan_when_not_given(tmp_path: Path) -> None:
    ran = run(cli, ["status"], env={PLAN_ENV: str(tmp_path / "from-env.yaml")})
    assert ran.code == 2 and f"no plan file at {tmp_path / 'from-env.yaml'}" in ran.err


def test_root_help_prints_the_exit_code_table() -> None:
    ran = run(cli, ["--help"])
    for line in table_text().splitlines():
        assert line in ran.out


def test_readme_exit_code_table_is_the_enum() -> None:
    text = README.read_text()
    section = text.split("### Exit codes", 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| *(\d+) *\| *(.+?) *\|$", section, re.MULTILINE)
    assert [(int(code), meaning) for code, meaning in rows] == [
        (int(c), c.meaning) for c in ExitCode
    ]


def _error_classes() -> list[type[CutoverError]]:
    packages = ("cdc", "comparators", "events", "phases", "shadow", "rehearsal", "cutover")
    for package in (*packages, "legacy_app"):
        for info in pkgutil.walk_packages(importlib.import_module(package).__path__, f"{package}."):
            if info.name.endswith("errors"):
                importlib.import_module(info.name)
    found: list[type[CutoverError]] = []
    todo: list[type[CutoverError]] = [CutoverError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_toolkit_error_exits_with_a_code_of_the_table() -> None:
    classes = _error_classes()
    assert len(classes) > 40
    codes = {int(c) for c in ExitCode}
    stray = {cls.__qualname__: cls.exit_code for cls in classes if cls.exit_code not in codes}
    assert stray == {}
