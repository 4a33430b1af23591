"""``cutover shadow dlq list|show|replay|purge`` — dead letters an operator can run.

A thin layer over :mod:`shadow.dlq_commands`. Acknowledgements go to cutover's audit trail:
the state store named by ``CUTOVER_STATE_URL``, else by ``--plan`` (``purge`` needs one;
``list`` and ``replay`` read and write it when there is one).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from cutover_common.cli import echo_json, json_option
from cutover_common.exit_codes import ExitCode
from shadow.cli import _config, _parse_time, app_options
from shadow.config import ShadowConfig
from shadow.dlq_ops import AckLog, Letter, LetterFilter
from shadow.dlq_payloads import DeadLetterPayloads, PgDeadLetterPayloads
from shadow.errors import AcknowledgementsUnavailable
from shadow.messages import RawMessage

F = TypeVar("F", bound=Callable[..., Any])
PREVIEW_BYTES = 2000

_FILTERS = (
    click.option(
        "--kind",
        "kinds",
        multiple=True,
        type=click.Choice(["undecodable", "unknown_type", "schema_invalid", "handler_error"]),
        help="Only this error kind (repeatable).",
    ),
    click.option("--reason", help="Only letters whose reason or error class contains this text."),
    click.option("--type", "types", multiple=True, help="Only this event type (repeatable)."),
    click.option("--since", help="Dead-lettered at or after this ISO 8601 time."),
    click.option("--until", help="Dead-lettered before this ISO 8601 time."),
)


def filter_options(fn: F) -> F:
    for option in reversed(_FILTERS):
        fn = option(fn)
    return fn


def _filter(app: dict[str, Any]) -> LetterFilter:
    since, until = app.pop("since"), app.pop("until")
    return LetterFilter(
        kinds=tuple(app.pop("kinds")),
        reason=app.pop("reason") or None,
        types=tuple(app.pop("types")),
        since=_parse_time(since) if since else None,
        until=_parse_time(until) if until else None,
    )


def _acks(plan_path: Path | None) -> AckLog | None:
    from phases.dlq_acks import ack_log_for
    from phases.store import default_actor

    plan = str(plan_path) if plan_path is not None and plan_path.is_file() else None
    return ack_log_for(os.environ, plan_path=plan, actor=default_actor())


def _payloads(config: ShadowConfig) -> DeadLetterPayloads:
    return PgDeadLetterPayloads(config.dsn.reveal(), config.schema)


@click.group("dlq")
def dlq() -> None:
    """Dead letters of the app's consumers (``<group>.dlq``): list, show, replay, purge."""


@dlq.command("list")
@app_options
@filter_options
@click.option("--all", "include_acked", is_flag=True, help="Acknowledged letters too.")
@json_option
@click.pass_context
def list_cmd(ctx: click.Context, /, include_acked: bool, as_json: bool, **app: Any) -> None:
    """The dead letters not yet acknowledged (``--all``: every one still in the topic)."""
    from shadow.dlq_commands import dlq_list

    flt = _filter(app)
    rows = dlq_list(
        _config(ctx, **app), flt, acks=_acks(app.get("plan_path")), include_acked=include_acked
    )
    if as_json:
        echo_json([r.to_dict() for r in rows])
        return
    table = Table(title=f"Dead letters ({len(rows)})")
    columns = ("dlq", "consumer", "original", "key", "time", "type", "kind", "reason", "size")
    for col in (*columns, "truncated", "acked"):
        table.add_column(col)
    for r in rows:
        d = r.to_dict()
        table.add_row(*(str(d[c] if c != "dlq" else d["dlq"].rsplit(":", 1)[1]) for c in columns),
                      "yes" if d["truncated"] else "", "yes" if r.acked else "")  # fmt: skip
    Console().print(table)


def _value_text(value: bytes | None, full: bool) -> str:
    if value is None:
        return "(no value: a tombstone)"
    shown = value if full else value[:PREVIEW_BYTES]
    try:
        text = json.dumps(json.loads(shown), indent=2, sort_keys=True)
    except ValueError:
        text = shown.decode("utf-8", "replace")
    more = len(value) - len(shown)
    return text + (f"\n... {more} more byte(s); --full shows them" if more > 0 else "")


@dlq.command("show")
@click.argument("where")
@app_options
@click.option("--full", is_flag=True, help="The whole value (default: its first 2000 bytes).")
@json_option
@click.pass_context
def show_cmd(ctx: click.Context, /, where: str, full: bool, as_json: bool, **app: Any) -> None:
    """One dead letter by WHERE: TOPIC:PARTITION@OFFSET of its original record, or
    PARTITION@OFFSET in the dead-letter topic. Exit 9 when there is none."""
    from shadow.dlq_commands import dlq_show, whole_original

    config = _config(ctx, **app)
    letter = dlq_show(config, where)
    payloads = _payloads(config) if letter.truncated else None
    try:
        record = whole_original(letter, payloads)
    finally:
        if payloads is not None:
            payloads.close()
    shown = _shown(letter, record, full)
    if as_json:
        echo_json({**letter.to_dict(), **shown})
        return
    console = Console()
    for key, val in letter.to_dict().items():
        console.print(f"{key}: {val}", highlight=False)
    for key, hdr in shown["headers"].items():
        console.print(f"header {key}: {hdr}", highlight=False)
    if record is None:
        console.print(f"claim check {letter.claim_check} not found: the truncated value follows")
    console.print(shown["value"], highlight=False)


def _shown(letter: Letter, record: RawMessage | None, full: bool) -> dict[str, Any]:
    """Headers and value of the original (the letter's own when its claim check is missing)."""
    headers = letter.headers if record is None else record.headers
    return {
        "headers": {k: (v or b"").decode("utf-8", "replace") for k, v in headers},
        "value": _value_text(letter.value if record is None else record.value, full),
        "claim_check": letter.claim_check,
        "claim_check_found": record is not None if letter.truncated else None,
    }


@dlq.command("replay")
@app_options
@filter_options
@click.option("--all", "include_acked", is_flag=True, help="Acknowledged letters too.")
@click.option("--republish", is_flag=True, help="Produce them to their original topics instead.")
@json_option
@click.pass_context
def replay_cmd(
    ctx: click.Context, /, include_acked: bool, republish: bool, as_json: bool, **app: Any
) -> None:
    """Run the selected letters back through the app's handlers in this process, after a
    fix (idempotent: what was applied comes back duplicate), and acknowledge what was
    applied. Letters that fail again stay. Exit 1 when any failed again."""
    from phases.store import default_actor
    from shadow.dlq_commands import dlq_replay

    flt = _filter(app)
    config = _config(ctx, **app)
    payloads = _payloads(config)
    try:
        report = dlq_replay(
            config, flt, acks=_acks(app.get("plan_path")), payloads=payloads,
            actor=default_actor(), include_acked=include_acked, republish_to_topic=republish,
            out=sys.stderr if as_json else sys.stdout,
        )  # fmt: skip
    finally:
        payloads.close()
    if as_json:
        echo_json(report.to_dict())
    if report.counts()["failed"]:
        raise click.exceptions.Exit(ExitCode.ERROR)


@dlq.command("purge")
@app_options
@filter_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--delete-records",
    is_flag=True,
    help="Also delete the acknowledged records from Kafka (each partition's acknowledged "
    "prefix); default: acknowledge only.",
)
@json_option
@click.pass_context
def purge_cmd(
    ctx: click.Context, /, yes: bool, delete_records: bool, as_json: bool, **app: Any
) -> None:
    """Acknowledge the selected letters (an audit row: who, when, filter, count, offsets),
    so the gates stop counting them; with --delete-records delete them from Kafka too."""
    from phases.store import default_actor
    from shadow.dlq_commands import dlq_list, dlq_purge

    flt = _filter(app)
    acks = _acks(app.get("plan_path"))
    if acks is None:
        raise AcknowledgementsUnavailable("purge")
    config = _config(ctx, **app)
    if not yes:
        n = len(dlq_list(config, flt, acks=acks))
        what = "acknowledge and delete" if delete_records else "acknowledge"
        click.confirm(f"{what} {n} dead letter(s)?", abort=True, err=True)
    payloads = _payloads(config)
    try:
        done = dlq_purge(
            config, flt, acks=acks, payloads=payloads, actor=default_actor(),
            delete=delete_records,
        )  # fmt: skip
    finally:
        payloads.close()
    if as_json:
        echo_json([a.to_dict() for a in done])
        return
    for a in done:
        deleted = f"; records deleted up to {a.deleted_up_to}" if a.deleted_up_to else ""
        click.echo(f"{a.topic}: acknowledged {a.count} dead letter(s){deleted}")
    if not done:
        click.echo("nothing to acknowledge")
