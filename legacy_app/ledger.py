"""The order service's cutover bookkeeping in its database: verify results, blocked sync calls.

``async``: each verify (dry-run) answer is a row of cutover's ``verify_results`` table,
read back by :func:`legacy_app.outcomes.iter_verify_outcomes`.
``events-only``: each attempted sync call is a row of cutover's ``blocked_calls`` table;
:func:`count_blocked_sync_calls` is what the phase-5 gate reads (it wants 0).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from cutover.state.models import BlockedCallRow as BlockedSyncCall
from cutover.state.models import VerifyResultRow as VerifyResult
from legacy_app.downstream import Call

log = structlog.get_logger(__name__)


class SqlLedger:
    """:class:`~legacy_app.flow.Ledger` writing one short transaction per record."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def record_verify(
        self, call: Call, context: str, operation: str, result: dict[str, Any]
    ) -> None:
        with self._sessions() as session, session.begin():
            session.add(
                VerifyResult(
                    order_id=call.order_id,
                    context=context,
                    operation=operation,
                    result=result,
                    correlation_id=call.correlation_id,
                    inconclusive=bool(result.get("inconclusive")),
                )
            )

    def record_blocked(self, call: Call, context: str, operation: str) -> None:
        log.error(
            "sync_call_blocked",
            context=context,
            operation=operation,
            order_id=call.order_id,
            correlation_id=call.correlation_id,
        )
        with self._sessions() as session, session.begin():
            session.add(
                BlockedSyncCall(
                    context=context,
                    operation=operation,
                    order_id=call.order_id,
                    correlation_id=call.correlation_id,
                )
            )


def count_blocked_sync_calls(
    engine: Engine, *, since: datetime | None = None, context: str | None = None
) -> int:
    """How many sync calls were attempted while their context was ``events-only``."""
    stmt = select(func.count()).select_from(BlockedSyncCall)
    if since is not None:
        stmt = stmt.where(BlockedSyncCall.attempted_at >= since)
    if context is not None:
        stmt = stmt.where(BlockedSyncCall.context == context)
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())
