"""Test helpers on cutover's state tables: set a context's mode as ``phases`` would, count
blocked sync calls as the phase-5 gate does. Tests and benchmarks only: the sample reads
and writes cutover's state through ``import cutover`` alone."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, func, select, text

from cutover.state.models import BlockedCallRow
from cutover.state.naming import bind, effective_schema, qualified
from cutover_common.modes import Mode


def write_mode(engine: Engine, context: str, mode: Mode | str, *, by: str = "tests") -> None:
    """Set ``context``'s mode in cutover's ``context_modes`` (``phases`` owns real transitions)."""
    table = qualified("context_modes", effective_schema(engine.dialect.name))
    params = {"mode": str(Mode(mode)), "by": by, "ctx": context}
    with engine.begin() as conn:
        updated = conn.execute(
            text(
                f"UPDATE {table} SET mode = :mode, updated_by = :by, "
                "updated_at = CURRENT_TIMESTAMP WHERE context = :ctx"
            ),
            params,
        )
        if updated.rowcount == 0:
            conn.execute(
                text(f"INSERT INTO {table} (context, mode, updated_by) VALUES (:ctx, :mode, :by)"),
                params,
            )


def count_blocked_sync_calls(
    engine: Engine, *, since: datetime | None = None, context: str | None = None
) -> int:
    """How many sync calls were attempted while their context was ``events-only``."""
    stmt = select(func.count()).select_from(BlockedCallRow)
    if since is not None:
        stmt = stmt.where(BlockedCallRow.attempted_at >= since)
    if context is not None:
        stmt = stmt.where(BlockedCallRow.context == context)
    with bind(engine).connect() as conn:
        return int(conn.execute(stmt).scalar_one())
