"""The `cutover` command line: a thin layer over plain functions in each package."""

from __future__ import annotations

import os
import sys

import click

from cutover_common.cli import LazyGroup, exit_codes_epilog, run_cli
from cutover_common.logging import configure_logging

# Commands owned by other packages, imported only when used.
LAZY_COMMANDS: dict[str, str] = {
    "stack": "rehearsal.stack.cli:stack",
    "smoke": "rehearsal.cli:smoke",
    "rehearse": "rehearsal.cli:rehearse",
    "events": "events.cli:events",
    "traffic": "rehearsal.traffic_cli:traffic",
    "connectors": "cdc.cli:connectors",
    "topics": "phases.topics_cli:topics",
    "app": "rehearsal.app_cli:app",
    "shadow": "shadow.cli:shadow",
    "compare": "comparators.cli:compare",
    "repair": "comparators.cli:repair",
    "discover": "phases.cli_commands:discover_cmd",
    "plan": "phases.cli_commands:plan_group",
    "status": "phases.cli_commands:status_cmd",
    "advance": "phases.cli_commands:advance_cmd",
    "rollback": "phases.cli_commands:rollback_cmd",
    "gate": "phases.cli_commands:gate_group",
    "history": "phases.cli_commands:history_cmd",
    "outbox": "cutover.cli:outbox",
    "init": "cutover.state.cli:init_cmd",
}


@click.group(
    cls=LazyGroup,
    lazy=LAZY_COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=exit_codes_epilog(),
)
@click.version_option(package_name="cutover")
def cli() -> None:
    """cutover — move a synchronous system to events in gated phases.

    Add --debug to any command to see tracebacks of errors (redacted). Every command
    that prints a result takes --json; every command that reads the plan takes --plan
    (default $CUTOVER_PLAN, then ./cutover-plan.yaml). Logs go to stderr
    (CUTOVER_LOG_LEVEL, default INFO; CUTOVER_LOG_JSON=1 for JSON lines).
    """
    configure_logging(
        json=os.environ.get("CUTOVER_LOG_JSON") == "1",
        level=os.environ.get("CUTOVER_LOG_LEVEL", "INFO").upper(),
    )


def main() -> None:
    """Console-script entry point."""
    sys.exit(run_cli(cli))


if __name__ == "__main__":
    main()
