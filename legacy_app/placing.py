"""Placing an order: store it (with its outbox event), run the flow, store how it ended.

The mode of the ``order`` context decides the path:

* ``sync``: the order row; real calls; 201 with the final status.
* ``dual``: plus outbox ``order.created`` in the same transaction as the order,
  and ``order.completed``/``order.failed`` in the one of the status change; 201.
* ``naive-dual``: no outbox; the events produced to Kafka after the final commit; 201.
* ``async``: outbox ``order.created``; verify calls, recorded; 202 ``accepted``. A verify
  run in which a downstream gave no answer is recorded ``inconclusive`` (with the calls);
  the reverse comparison leaves such orders out (:mod:`legacy_app.outcomes`).
  The calls and the ``finish`` summary are recorded by the ``order`` context's
  ``cutover.Migration`` (:class:`~legacy_app.ledger.Migrations`).
* ``events-only``: outbox ``order.created``; no call at all; 202 ``accepted``.

In every mode the order row's ``version`` is 1 when stored and bumped by the
status change; each event carries the version of its change (``aggregate_version``).
Outbox rows are written by ``cutover.emit`` (:func:`~legacy_app.outbox.add_to_outbox`),
stamped with the ``order`` context's mode. ``naive-dual`` is the sample's own: the SDK runs
it as ``sync`` and the service produces after the commit itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

import cutover
from cutover import Mode
from events.envelope import Envelope
from legacy_app.contracts.domain import OrderCompleted, OrderCreated, OrderFailed
from legacy_app.contracts.values import OrderLine, money
from legacy_app.downstream import Downstreams
from legacy_app.errors import InvalidRequest, OrderNotStored
from legacy_app.flow import FlowResult, PlacedOrder, run_saga
from legacy_app.ledger import Migrations
from legacy_app.models import Customer, Order, OrderItem, Product
from legacy_app.modes import ModeSource
from legacy_app.outbox import Publisher, add_to_outbox, advance_order, envelope_for, outbox_for
from legacy_app.validation import OrderRequest

log = structlog.get_logger(__name__)

OUTBOX_MODES = frozenset({Mode.DUAL, Mode.ASYNC, Mode.EVENTS_ONLY})
ACCEPTED_MODES = frozenset({Mode.ASYNC, Mode.EVENTS_ONLY})


@dataclass(frozen=True, slots=True)
class OrderDeps:
    """What placing an order needs: storage, the downstream ports, modes, ledger, publisher.

    ``ledger`` is where cutover's runner records verify results and blocked calls
    (``cutover.SqlLedger`` in the service, ``cutover.MemoryLedger`` in tests).
    """

    sessions: sessionmaker[Session]
    downstreams: Downstreams
    modes: ModeSource
    ledger: cutover.Ledger
    publisher: Callable[[], Publisher]
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    migrations: Migrations = field(init=False)
    outbox: cutover.Outbox = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "migrations", Migrations(self.modes, self.ledger))
        object.__setattr__(self, "outbox", outbox_for(self.modes))


def _priced_lines(session: Session, request: OrderRequest) -> tuple[OrderLine, ...]:
    skus = [line.sku for line in request.items]
    rows = session.execute(select(Product.sku, Product.price).where(Product.sku.in_(skus)))
    prices = {sku: price for sku, price in rows}
    unknown = [
        {"loc": ["items", str(i), "sku"], "msg": f"unknown sku {line.sku}", "type": "unknown_sku"}
        for i, line in enumerate(request.items)
        if line.sku not in prices
    ]
    if unknown:
        raise InvalidRequest(422, unknown)
    return tuple(OrderLine(line.sku, line.qty, money(prices[line.sku])) for line in request.items)


def _customer(session: Session, customer_id: str) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise InvalidRequest(
            422,
            [
                {
                    "loc": ["customer_id"],
                    "msg": f"unknown customer {customer_id}",
                    "type": "unknown_customer",
                }
            ],
        )
    return customer


def _store(
    deps: OrderDeps, request: OrderRequest, mode: Mode, correlation_id: str
) -> tuple[PlacedOrder, Envelope, dict[str, Any]]:
    """One transaction: the order, its items and (in outbox modes) the ``order.created`` row."""
    try:
        with deps.sessions() as session, session.begin():
            customer = _customer(session, request.customer_id)
            lines = _priced_lines(session, request)
            total = money(sum((ln.amount for ln in lines), Decimal("0")))
            status = "accepted" if mode in ACCEPTED_MODES else "pending"
            order = Order(
                customer_id=customer.id, customer_email=customer.email, status=status, total=total,
                currency="EUR", payment_method=request.payment_method, mode=str(mode),
                correlation_id=correlation_id, created_at=deps.clock(), version=1,
            )  # fmt: skip
            order.items = [
                OrderItem(line_no=i + 1, sku=ln.sku, qty=ln.qty, unit_price=ln.unit_price)
                for i, ln in enumerate(lines)
            ]
            session.add(order)
            session.flush()
            view = view_of(order)
            created = OrderCreated(
                order.id,
                customer.id,
                customer.email,
                lines,
                total,
                request.payment_method,
            )
            event = envelope_for(
                created, correlation_id=correlation_id, causation_id=None
            ).with_aggregate_version(order.version)
            if mode in OUTBOX_MODES:
                event = add_to_outbox(session, event, outbox=deps.outbox)
            placed = PlacedOrder(
                order.id, correlation_id, customer.email, lines, total, request.payment_method
            )
    except SQLAlchemyError as exc:
        log.error("order_not_stored", correlation_id=correlation_id, error=type(exc).__name__)
        raise OrderNotStored(type(exc).__name__) from exc
    return placed, event, view


def _finish(
    deps: OrderDeps, placed: PlacedOrder, result: FlowResult, mode: Mode, created: Envelope
) -> Envelope:
    """One transaction: the final status and (in ``dual``) its outbox event."""
    payload: OrderCompleted | OrderFailed = (
        OrderCompleted(placed.order_id, placed.total)
        if result.status == "completed"
        else OrderFailed(placed.order_id, result.reason or "failed", placed.total)
    )
    event = envelope_for(payload, correlation_id=placed.correlation_id, causation_id=created.id)
    with deps.sessions() as session, session.begin():
        version = advance_order(
            session,
            placed.order_id,
            status=result.status,
            failure_reason=result.reason,
            compensation_errors="; ".join(result.errors)[:1000] or None,
            finished_at=deps.clock(),
        )
        event = event.with_aggregate_version(version)
        if mode is Mode.DUAL:
            event = add_to_outbox(session, event, outbox=deps.outbox)
    return event


def place_order(request: OrderRequest, correlation_id: str, deps: OrderDeps) -> dict[str, Any]:
    """Place one order in the current mode of the ``order`` context; returns its view."""
    mode = deps.modes.mode("order")
    placed, created, view = _store(deps, request, mode, correlation_id)
    log.info(
        "order_stored", order_id=placed.order_id, correlation_id=correlation_id, mode=str(mode)
    )
    if mode is Mode.ASYNC:
        would = run_saga(placed, deps.downstreams, deps.migrations, verify_all=True)
        finish: dict[str, Any] = {
            "status": would.status, "reason": would.reason, "total": str(placed.total)
        }  # fmt: skip
        no_answer: str | None = None
        if would.unavailable:
            finish |= {"unavailable": list(would.unavailable)}
            no_answer = "no answer from " + ", ".join(would.unavailable)
        deps.migrations("order").record_verify(
            placed.order_id, "finish", finish, inconclusive=no_answer is not None,
            reason=no_answer, correlation_id=correlation_id,
        )  # fmt: skip
    if mode in ACCEPTED_MODES:
        return view
    result = run_saga(placed, deps.downstreams, deps.migrations)
    finished = _finish(deps, placed, result, mode, created)
    if mode is Mode.NAIVE_DUAL:  # after the last commit: a crash here loses both events
        deps.publisher().publish(created)
        deps.publisher().publish(finished)
    log.info("order_finished", order_id=placed.order_id, status=result.status, reason=result.reason)
    return {**view, "status": result.status, "failure_reason": result.reason}


def view_of(order: Order) -> dict[str, Any]:
    """The JSON view of an order (its items loaded)."""
    return {
        "id": order.id,
        "customer_id": order.customer_id,
        "status": order.status,
        "total": str(money(order.total)),
        "currency": order.currency,
        "payment_method": order.payment_method,
        "mode": order.mode,
        "correlation_id": order.correlation_id,
        "failure_reason": order.failure_reason,
        "items": [
            {"sku": it.sku, "qty": it.qty, "unit_price": str(money(it.unit_price))}
            for it in order.items
        ],
    }


def order_view(sessions: sessionmaker[Session], order_id: str) -> dict[str, Any] | None:
    """The JSON view of a stored order, or ``None`` when there is no such order."""
    with sessions() as session:
        order = session.get(Order, order_id)
        return None if order is None else view_of(order)
