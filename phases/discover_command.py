"""``cutover discover``: reflect the database, read recorded writes and calls, write a plan draft.

Recorded writes (``--recorded FILE``) are JSON lines, one per statement or per transaction:
``{"txn": "<id>", "tables": ["orders", "order_items"]}`` or ``{"txn": "<id>", "sql": "INSERT
INTO orders ..."}`` (the written tables are read from the SQL); lines with the same ``txn``
(a database transaction id, or a request's correlation id) form one group.

The draft's Kafka and Kafka Connect addresses come from ``--bootstrap-servers`` /
``CUTOVER_KAFKA_BOOTSTRAP_SERVERS`` and ``--connect-url`` / ``CUTOVER_CONNECT_URL``; without
them the command stops with one line saying which is missing (there is no default address).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from rich.table import Table
from sqlalchemy import Engine, MetaData, create_engine

from cutover_common.config import CONNECT_URL, KAFKA_BOOTSTRAP_SERVERS
from phases.commands import CommandConfig
from phases.discover import Proposal, RecordedCall, TableInfo, WriteGroup, propose
from phases.discover_draft import draft_plan
from phases.discover_graph import group_writes, written_tables
from phases.errors import DiscoveryError, EndpointMissing, PhasesError, RecordingInvalid
from phases.plan import parse_plan

HEADER = """\
# Migration plan DRAFT written by `cutover discover`.
# Review every context: the `evidence:` section says why each was proposed
# (recorded writes, foreign keys, shared table names, recorded HTTP calls) and how
# confident it is; `_shared_tables` lists hub tables (users, tenants...) shared by contexts.
# Add outcome queries (sync_query / event_query) and invariants before phase 2.
"""


def reflect_tables(engine: Engine, schema: str | None = None) -> list[TableInfo]:
    """Tables, columns and foreign keys of the database, via SQLAlchemy reflection."""
    meta = MetaData()
    try:
        meta.reflect(bind=engine, schema=schema)
    except Exception as exc:
        raise DiscoveryError(engine.url.render_as_string(hide_password=True), str(exc)) from exc
    out = []
    for table in meta.sorted_tables:
        refs = tuple(sorted({str(fk.column.table.name) for fk in table.foreign_keys}))
        out.append(TableInfo(str(table.name), tuple(str(c.name) for c in table.columns), refs))
    return out


def read_calls(path: Path) -> list[RecordedCall]:
    """JSONL of ``{method, url, correlation_id, duration_ms}``, one call per line."""
    calls = []
    for n, line in enumerate(_lines(path), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            calls.append(
                RecordedCall(
                    str(row["method"]).upper(),
                    str(row["url"]),
                    row.get("correlation_id"),
                    _float(row.get("duration_ms")),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise RecordingInvalid(f"{path}:{n}", f"bad call record: {exc}") from exc
    return calls


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def read_writes(path: Path) -> list[WriteGroup]:
    """JSONL of ``{txn, tables}`` or ``{txn, sql}``, grouped by ``txn`` (module docstring)."""
    rows = []
    for n, line in enumerate(_lines(path), 1):
        if line.strip():
            rows.append(_write_row(line, f"{path}:{n}"))
    return group_writes(rows)


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise RecordingInvalid(str(path), f"not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise DiscoveryError(str(path), exc.strerror or str(exc)) from exc


def _write_row(line: str, where: str) -> tuple[str, frozenset[str]]:
    try:
        row = json.loads(line)
        txn = str(row["txn"])
        if "tables" in row:
            tables = row["tables"]
            if not isinstance(tables, list) or not all(isinstance(t, str) for t in tables):
                raise TypeError("tables must be a list of table names")
            return txn, frozenset(t.split(".")[-1] for t in tables)
        return txn, written_tables(str(row["sql"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise RecordingInvalid(where, f"bad write record ({type(exc).__name__}: {exc})") from exc


def resolve_endpoints(
    environ: Mapping[str, str], bootstrap: str | None, connect_url: str | None
) -> tuple[str, str]:
    """The draft's Kafka bootstrap servers and Connect URL, from the flags or the environment."""
    servers = KAFKA_BOOTSTRAP_SERVERS.get(environ, bootstrap)
    if not servers:
        raise EndpointMissing(
            "Kafka bootstrap servers", "--bootstrap-servers", KAFKA_BOOTSTRAP_SERVERS.name
        )
    url = CONNECT_URL.get(environ, connect_url)
    if not url:
        raise EndpointMissing("Kafka Connect URL", "--connect-url", CONNECT_URL.name)
    return servers, url


def render_draft(draft: dict[str, Any]) -> str:
    return HEADER + yaml.safe_dump(draft, sort_keys=False, default_flow_style=None, width=100)


def discover_to_file(
    tables: Sequence[TableInfo],
    calls: Sequence[RecordedCall],
    out: Path,
    *,
    url_env: str,
    bootstrap: str,
    connect_url: str,
    writes: Sequence[WriteGroup] = (),
) -> tuple[Proposal, dict[str, Any]]:
    """Propose, check the draft validates, write it; return the proposal and the draft."""
    proposal = propose(tables, calls, writes)
    if not proposal.contexts:
        raise DiscoveryError("database", "no domain tables found")
    draft = draft_plan(proposal, url_env=url_env, bootstrap=bootstrap, connect_url=connect_url)
    parse_plan(draft, source=str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_draft(draft), encoding="utf-8")
    return proposal, draft


def discover(
    config: CommandConfig,
    *,
    url_env: str,
    calls_file: Path | None,
    schema: str | None,
    out: Path,
    writes_file: Path | None = None,
    bootstrap: str | None = None,
    connect_url: str | None = None,
) -> int:
    """Reflect ``$url_env``'s database, read ``writes_file`` and ``calls_file``, and write a
    plan draft to ``out`` naming ``bootstrap`` / ``connect_url`` (else from the environment)."""
    servers, connect = resolve_endpoints(config.environ, bootstrap, connect_url)
    writes = read_writes(writes_file) if writes_file else []
    url = config.environ.get(url_env)
    if not url:
        raise PhasesError(f"environment variable {url_env} is not set", hint="export the DB URL")
    engine = create_engine(url)
    try:
        tables = reflect_tables(engine, schema)
    finally:
        engine.dispose()
    calls = read_calls(calls_file) if calls_file else []
    proposal, draft = discover_to_file(
        tables, calls, out, url_env=url_env, bootstrap=servers, connect_url=connect, writes=writes
    )
    if config.json:
        config.emit(
            {
                "written": str(out),
                "contexts": draft["contexts"],
                "shared_tables": proposal.shared_tables,
                "evidence": draft["evidence"],
            }
        )
        return 0
    table = Table("context", "tables", "sync endpoints", "events", "confidence")
    for c in proposal.contexts:
        table.add_row(
            c.name, ", ".join(c.tables), "\n".join(c.endpoints), ", ".join(c.events), c.confidence
        )
    console = config.console()
    console.print(table)
    for shared in proposal.shared:
        console.print(f"[cyan]shared table[/] {shared.name}: {shared.reason}")
    for s in proposal.unmatched_services:
        console.print(f"[yellow]unmatched service[/] {s.base} ({', '.join(s.paths)})")
    console.print(f"plan draft written to {out}")
    return 0
