"""``cutover discover``: reflect the database, read recorded calls, write a plan draft."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from rich.table import Table
from sqlalchemy import Engine, MetaData, create_engine

from phases.commands import CommandConfig
from phases.discover import Proposal, RecordedCall, TableInfo, draft_plan, propose
from phases.errors import DiscoveryError, PhasesError
from phases.plan import parse_plan

HEADER = """\
# Migration plan DRAFT written by `cutover discover`.
# Review every context: the `evidence:` section says why each was proposed
# (foreign keys, shared table names, recorded HTTP calls) and how confident it is.
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
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DiscoveryError(str(path), exc.strerror or str(exc)) from exc
    for n, line in enumerate(lines, 1):
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
            raise DiscoveryError(f"{path}:{n}", f"bad call record: {exc}") from exc
    return calls


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def render_draft(draft: dict[str, Any]) -> str:
    return HEADER + yaml.safe_dump(draft, sort_keys=False, default_flow_style=None, width=100)


def discover_to_file(
    tables: Sequence[TableInfo],
    calls: Sequence[RecordedCall],
    out: Path,
    *,
    url_env: str,
    bootstrap: str = "localhost:9092",
    connect_url: str = "http://localhost:8083",
) -> tuple[Proposal, dict[str, Any]]:
    """Propose, check the draft validates, write it; return the proposal and the draft."""
    proposal = propose(tables, calls)
    if not proposal.contexts:
        raise DiscoveryError("database", "no domain tables found")
    draft = draft_plan(proposal, url_env=url_env, bootstrap=bootstrap, connect_url=connect_url)
    parse_plan(draft, source=str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_draft(draft), encoding="utf-8")
    return proposal, draft


def discover(
    config: CommandConfig, *, url_env: str, calls_file: Path | None, schema: str | None, out: Path
) -> int:
    """Reflect ``$url_env``'s database, read ``calls_file`` and write a plan draft to ``out``."""
    url = config.environ.get(url_env)
    if not url:
        raise PhasesError(f"environment variable {url_env} is not set", hint="export the DB URL")
    engine = create_engine(url)
    try:
        tables = reflect_tables(engine, schema)
    finally:
        engine.dispose()
    calls = read_calls(calls_file) if calls_file else []
    proposal, draft = discover_to_file(tables, calls, out, url_env=url_env)
    if config.json:
        config.emit(
            {"written": str(out), "contexts": draft["contexts"], "evidence": draft["evidence"]}
        )
        return 0
    table = Table("context", "tables", "sync endpoints", "events", "confidence")
    for c in proposal.contexts:
        table.add_row(
            c.name, ", ".join(c.tables), "\n".join(c.endpoints), ", ".join(c.events), c.confidence
        )
    console = config.console()
    console.print(table)
    for s in proposal.unmatched_services:
        console.print(f"[yellow]unmatched service[/] {s.base} ({', '.join(s.paths)})")
    console.print(f"plan draft written to {out}")
    return 0
