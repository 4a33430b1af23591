"""Outcome sources for plans, as zero-argument callables (``module:function``).

A plan names a callable for each side of a comparison; these read the database from
the environment variables the plan references, so no URL is ever written in a plan:
``LEGACY_DATABASE_URL`` (SQLAlchemy URL of the legacy database, whose ``shadow``
schema holds the shadow store).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from legacy_app import invariants
from legacy_app.outcome import Outcome
from rehearsal.errors import RehearsalError

DATABASE_ENV = "LEGACY_DATABASE_URL"
COMPARE_RULES: dict[str, Any] = {
    "ignore": ["produced_at", "source"],
    "tolerance": {"total": 0.005},
    "decimals": ["total", "payment.amount"],
    "unordered": ["reservation.lines", "notifications"],
}
"""The ``compare:`` rules of the sample's outcome record (:mod:`legacy_app.outcome`), stated in
its plan like any team's: the comparators have no default naming its fields."""
INVARIANTS: list[str] = [
    invariants.name_of(check)
    for check in (
        invariants.payment_captured_once,
        invariants.payment_equals_total,
        invariants.one_shipment_per_paid_order,
        invariants.one_notification_per_order,
        invariants.no_effect_for_failed_order,
    )
]
"""The invariants the rehearsal's plan checks, by their plan names
(``legacy_app.invariants:<function>``)."""


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
    from legacy_app.orderflow.outcomes import event_outcomes as shadow_outcomes

    ids = _order_ids(
        "select order_id from shadow.order_status where order_id not in "
        "(select id from orders where mode in ('async', 'events-only'))"
    )
    return shadow_outcomes(libpq_dsn(_url()), ids)


def async_event_outcomes() -> Iterator[Outcome]:
    """The event path's outcomes of the orders placed while the context was ``async``: the
    control of phase 4's reverse comparison against the verify-mode results. Orders whose
    verify run was inconclusive stay in: their verify record is flagged, so the comparators
    count them ``inconclusive`` (left out, toward the gate's left-out share)."""
    from legacy_app.orderflow.outcomes import event_outcomes as shadow_outcomes

    return shadow_outcomes(
        libpq_dsn(_url()), _order_ids("select id from orders where mode = 'async'")
    )


def verify_outcomes() -> Iterator[Outcome]:
    """The phase-4 verify-mode (dry-run) outcome of every order, inconclusive runs flagged
    ``inconclusive`` (the plan's ``compare.inconclusive_column``)."""
    from legacy_app.outcomes import iter_verify_outcomes

    return iter_verify_outcomes(_url(), include_inconclusive=True)
