"""Outcome sources for plans, as zero-argument callables (``module:function``).

A plan names a callable for each side of a comparison; these read the database from
the environment variables the plan references, so no URL is ever written in a plan:
``LEGACY_DATABASE_URL`` (SQLAlchemy URL of the legacy database, whose ``shadow``
schema holds the shadow store).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import structlog

from events.outcome import Outcome
from rehearsal.errors import RehearsalError

DATABASE_ENV = "LEGACY_DATABASE_URL"
log = structlog.get_logger(__name__)


class SourceConfigError(RehearsalError):
    """Raised when the environment variable naming the database is not set."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"environment variable {name} is not set", hint="export the database URL")


def _url() -> str:
    url = os.environ.get(DATABASE_ENV)
    if not url:
        raise SourceConfigError(DATABASE_ENV)
    return url


def libpq_dsn(url: str) -> str:
    """``postgresql+psycopg://...`` -> ``postgresql://...`` for psycopg."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def sync_outcomes() -> Iterator[Outcome]:
    """The synchronous path's outcome of every finished order (legacy tables)."""
    from legacy_app.outcomes import iter_sync_outcomes

    return iter_sync_outcomes(_url())


def _order_ids(sql: str) -> list[str]:
    import psycopg

    with psycopg.connect(libpq_dsn(_url()), autocommit=True) as conn:
        return [str(r[0]) for r in conn.execute(sql).fetchall()]


def event_outcomes() -> Iterator[Outcome]:
    """The event path's outcomes of the orders both paths handled: every order the shadow
    store finished except those the legacy app accepted in ``async``/``events-only`` mode
    (which the sync path never completed). Orders unknown to the legacy app stay in, so a
    shadow pipeline that invents orders shows up as ``extra``."""
    from shadow.outcomes import event_outcomes as shadow_outcomes

    ids = _order_ids(
        "select order_id from shadow.order_status where order_id not in "
        "(select id from orders where mode in ('async', 'events-only'))"
    )
    return shadow_outcomes(libpq_dsn(_url()), ids)


def async_event_outcomes() -> Iterator[Outcome]:
    """The event path's outcomes of the orders placed while the context was ``async``: the
    control of phase 4's reverse comparison against the verify-mode results. Orders whose
    verify run was inconclusive (a downstream gave the dry run no answer) are left out on
    both sides, and counted in the log."""
    from legacy_app.outcomes import INCONCLUSIVE_VERIFY_IDS_SQL
    from shadow.outcomes import event_outcomes as shadow_outcomes

    ids = _order_ids(
        f"select id from orders where mode = 'async' and id not in ({INCONCLUSIVE_VERIFY_IDS_SQL})"
    )
    left_out = _order_ids(INCONCLUSIVE_VERIFY_IDS_SQL)
    if left_out:
        log.warning(
            "verify_inconclusive_left_out", orders=len(left_out), sample=sorted(left_out)[:5]
        )
    return shadow_outcomes(libpq_dsn(_url()), ids)


def verify_outcomes() -> Iterator[Outcome]:
    """The phase-4 verify-mode (dry-run) outcome of every order."""
    from legacy_app.outcomes import iter_verify_outcomes

    return iter_verify_outcomes(_url())
