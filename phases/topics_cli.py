"""``cutover topics ...``: click over :mod:`phases.topics_commands` (parse, call, exit)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from cutover_common.cli import json_option, plan_option
from phases import topics_commands
from phases.commands import CommandConfig

F = TypeVar("F", bound=Callable[..., Any])


def _options(func: F) -> F:
    func = json_option(func)
    func = click.option(
        "--topic",
        "extra",
        multiple=True,
        metavar="NAME[:PARTITIONS]",
        help="also this topic (one the plan cannot know, e.g. a shadow outbox's follow-ups)",
    )(func)
    return plan_option()(func)


def _exit(code: int) -> None:
    if code:
        raise SystemExit(code)


@click.group("topics")
def topics() -> None:
    """The Kafka topics the plan uses: brokers create none on first use
    (auto.create.topics.enable=false), so cutover creates each before use (docs/topics.md)."""


@topics.command("list")
@_options
def list_cmd(plan_path: Path, extra: tuple[str, ...], as_json: bool) -> None:
    """Every topic the plan uses, what for, and whether the broker has it."""
    config = CommandConfig(plan_path=plan_path, json=as_json, stdout=sys.stdout)
    _exit(topics_commands.topics_list(config, extra=extra))


@topics.command("diff")
@_options
def diff_cmd(plan_path: Path, extra: tuple[str, ...], as_json: bool) -> None:
    """The plan's topics the broker lacks: exit 0 when none, 11 when some are missing."""
    config = CommandConfig(plan_path=plan_path, json=as_json, stdout=sys.stdout)
    _exit(topics_commands.topics_diff(config, extra=extra))


@topics.command("ensure")
@_options
@click.option("--dry-run", is_flag=True, help="print what would be created, create nothing")
def ensure_cmd(plan_path: Path, extra: tuple[str, ...], as_json: bool, dry_run: bool) -> None:
    """Create the plan's missing topics (partitions, replication, retention from the plan);
    existing topics are never altered."""
    config = CommandConfig(plan_path=plan_path, json=as_json, stdout=sys.stdout)
    _exit(topics_commands.topics_ensure(config, extra=extra, dry_run=dry_run))
