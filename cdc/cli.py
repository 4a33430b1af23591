"""``cutover connectors ...``: manage Kafka Connect connectors (a layer over :mod:`cdc.commands`).

The worker URL comes from ``--url`` / ``CUTOVER_CONNECT_URL`` (default
``http://127.0.0.1:8083``, :data:`cutover_common.config.LOCAL_CONNECT_URL`: Connect's own
port on this machine; a stack elsewhere or on other ports is named explicitly). Basic auth
is read from the environment variable named by ``--auth-env`` (value ``user:password``);
TLS with ``--ca-bundle`` or ``--insecure``. Rich tables by default, ``--json`` for machines.

Exit codes (the rows of the binary's one table, ``cutover --help``):

====  ==============================================================
0     success (status: connector and every task RUNNING, healthy)
1     other toolkit error
6     status: the slot could not be checked (no database: --dsn-env or
      --plan), nothing else wrong
2     invalid input: usage error, worker validation errors, dangerous
      config refused, malformed desired-connectors file
7     unhealthy: connector or a task not RUNNING, slot/heartbeat bad,
      ``wait`` timed out
8     worker unreachable (connection, TLS, timeout)
9     connector (or task, plugin, logger) not found
10    conflict (HTTP 409 after retries, e.g. the connector exists;
      ``recover``: the slot exists, nothing to recover)
11    drift: ``diff`` / ``apply --dry-run`` found changes to make
12    authentication/authorisation refused (HTTP 401/403)
13    the worker's version does not support the call
====  ==============================================================
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from cdc import commands
from cdc.client import ConnectClient
from cdc.desired import DesiredConnector, load_desired_file
from cdc.errors import EXIT_DRIFT, EXIT_INVALID_CONFIG, EXIT_UNHEALTHY, CdcError, CommandOutcome
from cdc.health import HealthThresholds, PsycopgSlotProbe
from cdc.recover import RecoveryOptions
from cdc.transport import BasicAuth, TlsOptions
from cutover_common.cli import plan_option
from cutover_common.config import (
    CONNECT_AUTH_ENV,
    CONNECT_URL,
    KAFKA_BOOTSTRAP_SERVERS,
    LOCAL_CONNECT_URL,
)
from cutover_common.errors import EnvironmentVariableMissing, PlanFileMissing
from cutover_common.logging import configure_logging
from cutover_common.secrets import Secret


def _client(ctx: click.Context) -> ConnectClient:
    obj = ctx.find_root().obj if isinstance(ctx.find_root().obj, dict) else ctx.obj
    client = obj.get("client") if isinstance(obj, dict) else None
    if isinstance(client, ConnectClient):
        return client
    raise CdcError("no Connect client configured")


json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


_OUTCOMES = {
    EXIT_DRIFT: "drift: the cluster differs from the desired connectors",
    EXIT_UNHEALTHY: "unhealthy: see the status above",
    EXIT_INVALID_CONFIG: "invalid configuration: see the field errors above",
}


def _finish(code: int) -> None:
    """Exit non-zero through the root error boundary (one line on stderr, the exit code)."""
    if code:
        raise CommandOutcome(code, _OUTCOMES.get(code, f"exit {code}"))


@click.group("connectors")
@click.option(
    "--url",
    envvar=CONNECT_URL.name,
    default=LOCAL_CONNECT_URL,
    show_default=True,
    help=f"Kafka Connect REST URL (${CONNECT_URL.name}).",
)
@click.option(
    "--auth-env",
    envvar=CONNECT_AUTH_ENV.name,
    default=None,
    help=f"Env var holding basic auth as user:password (default: ${CONNECT_AUTH_ENV.name}).",
)
@click.option("--ca-bundle", type=click.Path(exists=True, dir_okay=False), default=None)
@click.option("--insecure", is_flag=True, help="Do not verify the worker's TLS certificate.")
@click.option("--timeout", "timeout_s", type=float, default=30.0, show_default=True)
@click.option("--log-level", default="WARNING", show_default=True)
@click.pass_context
def connectors(
    ctx: click.Context,
    *,
    url: str,
    auth_env: str | None,
    ca_bundle: str | None,
    insecure: bool,
    timeout_s: float,
    log_level: str,
) -> None:
    """Manage Kafka Connect connectors (Debezium): list, status, diff, apply, ..."""
    obj = ctx.ensure_object(dict)
    configure_logging(level=log_level.upper(), stream=obj.get("log_stream") or sys.stderr)
    if isinstance(obj.get("client"), ConnectClient):
        return  # injected (tests)
    auth = None
    if auth_env:
        if auth_env not in os.environ:
            raise EnvironmentVariableMissing(auth_env, named_by="--auth-env")
        auth = BasicAuth.parse(os.environ[auth_env])
    tls = TlsOptions(verify=not insecure, ca_bundle=ca_bundle)
    obj["client"] = ConnectClient.from_url(url, auth=auth, tls=tls, timeout_s=timeout_s)


def _out(ctx: click.Context) -> Any:
    obj = ctx.find_root().obj
    return (obj or {}).get("stdout") or sys.stdout


@connectors.command("list")
@json_option
@click.pass_context
def list_cmd(ctx: click.Context, as_json: bool) -> None:
    """Every connector with its state and the state of every task."""
    _finish(commands.list_connectors(_client(ctx), _out(ctx), as_json=as_json))


@connectors.command("plugins")
@click.option(
    "--all", "all_types", is_flag=True, help="Include transforms, converters, predicates."
)
@json_option
@click.pass_context
def plugins_cmd(ctx: click.Context, all_types: bool, as_json: bool) -> None:
    """Installed connector plugins."""
    _finish(commands.plugins(_client(ctx), _out(ctx), as_json=as_json, all_types=all_types))


@dataclass(frozen=True, slots=True)
class _Database:
    """The captured database of a connector: its DSN and, when the plan owns the connector,
    its outbox table, creation-time column and heartbeat table."""

    dsn: str
    outbox_table: str | None = None
    created_column: str | None = "created_at"
    heartbeat_table: str | None = None


def _database(
    ctx: click.Context, name: str, dsn_env: str | None, plan_path: Path
) -> _Database | None:
    """``--dsn-env``'s DSN, else the database the plan gives the connector ``name`` (when a
    plan is named, or the default plan file exists), else None."""
    if dsn_env:
        if dsn_env not in os.environ:
            raise EnvironmentVariableMissing(dsn_env, named_by="--dsn-env")
        return _Database(Secret(os.environ[dsn_env]).reveal())
    if not plan_path.is_file():
        if ctx.get_parameter_source("plan_path") not in (ParameterSource.DEFAULT, None):
            raise PlanFileMissing(str(plan_path))
        return None
    from phases.adapters import libpq_url
    from phases.outbox_connectors import plan_connectors
    from phases.plan import load_plan

    for connector in plan_connectors(load_plan(plan_path)):
        if connector.name != name:
            continue
        url = os.environ.get(connector.url_env)
        if not url:
            raise EnvironmentVariableMissing(
                connector.url_env, named_by=f"the plan's {connector.block} database"
            )
        layout = connector.layout
        return _Database(
            libpq_url(url), layout.table, layout.columns.created_at, connector.heartbeat_table
        )
    return None


db_options = [
    click.option(
        "--dsn-env",
        default=None,
        help="Env var with the captured database's DSN (default: the plan's database for a "
        "connector the plan owns).",
    ),
    plan_option(must_exist=False),
]


def _with_db(f: Any) -> Any:
    for option in reversed(db_options):
        f = option(f)
    return f


@connectors.command("status")
@click.argument("name")
@_with_db
@click.option("--heartbeat-table", default=None, help="Table the heartbeat action query writes.")
@click.option("--max-lag-bytes", type=int, default=64 * 1024 * 1024, show_default=True)
@click.option("--max-heartbeat-age", type=float, default=60.0, show_default=True)
@click.option(
    "--max-retained-bytes",
    type=int,
    default=1024 * 1024 * 1024,
    show_default=True,
    help="WAL the slot may hold back.",
)
@json_option
@click.pass_context
def status_cmd(
    ctx: click.Context,
    *,
    name: str,
    dsn_env: str | None,
    plan_path: Path,
    heartbeat_table: str | None,
    max_lag_bytes: int,
    max_heartbeat_age: float,
    max_retained_bytes: int,
    as_json: bool,
) -> None:
    """Connector, every task and the slot (missing, lost, inactive, WAL retained), each
    cause named; heartbeat age. The slot is read in --dsn-env's database or the plan's.
    Exit 7 if unhealthy, 6 if the slot could not be checked."""
    database = _database(ctx, name, dsn_env, plan_path)
    probe = None if database is None else PsycopgSlotProbe(database.dsn)
    if heartbeat_table is None and database is not None:
        heartbeat_table = database.heartbeat_table
    limits = HealthThresholds(max_lag_bytes, max_heartbeat_age, max_retained_bytes)
    code = commands.status(
        _client(ctx),
        name,
        _out(ctx),
        as_json=as_json,
        probe=probe,
        heartbeat_table=heartbeat_table,
        thresholds=limits,
    )
    _finish(code)


@connectors.command("recover")
@click.argument("name")
@_with_db
@click.option(
    "--margin",
    "margin_s",
    type=float,
    default=5.0,
    show_default=True,
    help="Seconds before the last recorded change the backfill starts (your longest outbox "
    "transaction).",
)
@click.option("--outbox-table", default=None, help="The outbox table (default: the plan's).")
@click.option(
    "--created-column", default=None, help="The outbox's creation time column (created_at)."
)
@click.option(
    "--bootstrap-servers",
    envvar=KAFKA_BOOTSTRAP_SERVERS.name,
    default=None,
    help="Kafka, to skip events already delivered (without it the whole window is re-read).",
)
@click.option("--timeout", "timeout_s", type=float, default=300.0, show_default=True)
@click.option("--dry-run", is_flag=True, help="Measure the gap (until now) and change nothing.")
@json_option
@click.pass_context
def recover_cmd(
    ctx: click.Context,
    *,
    name: str,
    dsn_env: str | None,
    plan_path: Path,
    margin_s: float,
    outbox_table: str | None,
    created_column: str | None,
    bootstrap_servers: str | None,
    timeout_s: float,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Recover a connector whose replication slot was dropped or lost, without republishing.

    Recreates the publication (if gone) and the slot, restarts the connector from the new
    slot's position, then backfills only the gap (outbox rows created from the last change
    the connector recorded, minus --margin, until now) with an incremental snapshot, and
    reports the gap's size. See docs/cdc-recovery.md.
    """
    from cdc.recover_io import KafkaEventLog, PsycopgCaptureDatabase

    database = _database(ctx, name, dsn_env, plan_path)
    if database is None:
        raise click.UsageError("give --dsn-env, or --plan with a plan that owns " + name)
    created = created_column or database.created_column
    if created is None:
        raise click.UsageError("the outbox has no creation time column: give --created-column")
    options = RecoveryOptions(
        margin_s=margin_s,
        timeout_s=timeout_s,
        created_column=created,
        outbox_table=outbox_table or database.outbox_table,
        dry_run=dry_run,
    )
    events = KafkaEventLog({"bootstrap.servers": bootstrap_servers}) if bootstrap_servers else None
    code = commands.recover(
        _client(ctx),
        name,
        _out(ctx),
        PsycopgCaptureDatabase(database.dsn, slot_timeout_s=timeout_s),
        events=events,
        options=options,
        as_json=as_json,
    )
    _finish(code)


file_argument = click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
optional_file = click.argument(
    "file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)


def _plan_given(ctx: click.Context, file: Path | None) -> bool:
    """The plan's connectors are wanted when ``--plan``/``$CUTOVER_PLAN`` names the plan,
    or no FILE is given (then the default plan file must exist)."""
    source = ctx.get_parameter_source("plan_path")
    return file is None or source not in (ParameterSource.DEFAULT, None)


def _desired(
    ctx: click.Context, file: Path | None, plan_path: Path, *, prepare: bool, out: Any
) -> list[DesiredConnector]:
    """The desired connectors of FILE and/or the plan (the plan's built as ``advance`` does)."""
    others = [] if file is None else load_desired_file(file)
    if not _plan_given(ctx, file):
        return others
    if not plan_path.is_file():
        raise PlanFileMissing(str(plan_path))
    from phases.plan import load_plan
    from phases.plan_connectors import merge_desired, plan_desired
    from phases.plan_connectors import prepare as prepare_databases

    owned = plan_desired(load_plan(plan_path), os.environ)
    if prepare:
        owned = prepare_databases(owned, say=lambda line: out.write(line + "\n"))
    return merge_desired([o.desired for o in owned], others, source=str(file))


@connectors.command("diff")
@optional_file
@plan_option(must_exist=False)
@json_option
@click.pass_context
def diff_cmd(ctx: click.Context, file: Path | None, plan_path: Path, as_json: bool) -> None:
    """Compare the desired connectors (FILE, the plan's) with the cluster. Exit 11 on drift."""
    desired = _desired(ctx, file, plan_path, prepare=False, out=_out(ctx))
    _finish(commands.diff(_client(ctx), desired, _out(ctx), as_json=as_json))


@connectors.command("apply")
@optional_file
@plan_option(must_exist=False)
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option("--no-validate", is_flag=True, help="Skip the worker's validation first.")
@click.option(
    "--allow-resnapshot",
    is_flag=True,
    help="Apply a new topic prefix, slot or publication to a running connector anyway "
    "(its outbox is published again).",
)
@json_option
@click.pass_context
def apply_cmd(
    ctx: click.Context,
    *,
    file: Path | None,
    plan_path: Path,
    dry_run: bool,
    no_validate: bool,
    allow_resnapshot: bool,
    as_json: bool,
) -> None:
    """Create/update connectors (FILE, the plan's) and move them to their desired state.

    A change that would make a running connector publish its outbox again (topic prefix,
    slot, publication) is refused (exit 10) unless --allow-resnapshot.
    """
    code = commands.apply(
        _client(ctx),
        _desired(ctx, file, plan_path, prepare=not dry_run, out=_out(ctx)),
        _out(ctx),
        dry_run=dry_run,
        validate=not no_validate,
        as_json=as_json,
        allow_resnapshot=allow_resnapshot,
    )
    _finish(code)


@connectors.command("validate")
@file_argument
@json_option
@click.pass_context
def validate_cmd(ctx: click.Context, file: Path, as_json: bool) -> None:
    """Validate configs (desired YAML or one JSON config) with the worker. Exit 2 on errors."""
    _finish(
        commands.validate(_client(ctx), commands.load_configs(file), _out(ctx), as_json=as_json)
    )


@connectors.command("restart")
@click.argument("name")
@click.option("--include-tasks", is_flag=True, help="Restart the tasks too.")
@click.option("--only-failed", is_flag=True, help="Only the failed connector/tasks.")
@click.option("--task", type=int, default=None, help="Restart this one task only.")
@json_option
@click.pass_context
def restart_cmd(
    ctx: click.Context,
    *,
    name: str,
    include_tasks: bool,
    only_failed: bool,
    task: int | None,
    as_json: bool,
) -> None:
    """Restart a connector, its (failed) tasks, or one task."""
    include = include_tasks or only_failed
    code = commands.restart(
        _client(ctx),
        name,
        _out(ctx),
        include_tasks=include,
        only_failed=only_failed,
        task=task,
        as_json=as_json,
    )
    _finish(code)


def _lifecycle(action: str, help_text: str) -> click.Command:
    @click.argument("name")
    @json_option
    @click.pass_context
    def command(ctx: click.Context, name: str, as_json: bool) -> None:
        _finish(commands.lifecycle(_client(ctx), action, name, _out(ctx), as_json=as_json))

    command.__doc__ = help_text
    return connectors.command(action)(command)


_lifecycle("pause", "Pause a connector and its tasks.")
_lifecycle("resume", "Resume a paused or stopped connector.")
_lifecycle("stop", "Stop a connector (no tasks; offsets can then be changed).")
_lifecycle("delete", "Delete a connector (its slot stays in the database).")


@connectors.command("offsets")
@click.argument("name")
@click.option("--reset", is_flag=True, help="Delete the offsets (connector must be STOPPED).")
@click.option(
    "--set",
    "set_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help='Set offsets from a JSON file {"offsets": [{"partition":..., "offset":...}]}.',
)
@json_option
@click.pass_context
def offsets_cmd(
    ctx: click.Context, name: str, reset: bool, set_file: Path | None, as_json: bool
) -> None:
    """Show, reset or set a connector's offsets (KIP-875)."""
    if reset and set_file:
        raise click.UsageError("--reset and --set are exclusive")
    _finish(
        commands.offsets(
            _client(ctx), name, _out(ctx), reset=reset, set_file=set_file, as_json=as_json
        )
    )
