"""The orchestrated alternative: :class:`OrderSaga` drives reserve -> charge -> ship -> notify.

The saga (the order context's process manager) calls each context's effect
itself instead of letting contexts react to each other's events; when payment
is declined it compensates by releasing the reservation. Its state and the
path it took are persisted in ``shadow.sagas`` in the same transaction as the
effects, and it emits the same domain events as the choreography (into
``shadow.outbox``), so both styles yield the same outcome and the same facts.

In ``async`` mode a step that fails transiently (service down, circuit open)
aborts the whole message: nothing of it is written, the event is retried later,
and the effects already performed are not repeated by the services because
every call carries an idempotency key (order id + operation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from legacy_app.contracts.domain import (
    InventoryReleased,
    InventoryReserved,
    NotificationSent,
    OrderCompleted,
    OrderFailed,
    PaymentCompleted,
    PaymentFailed,
    ShipmentCreated,
)
from legacy_app.contracts.values import Carrier
from legacy_app.orderflow.changes import OutboxRow, SagaRow
from legacy_app.orderflow.flow import FlowContext

STATES = ("started", "reserved", "paid", "shipped", "completed", "compensating", "failed")


@dataclass(slots=True)
class OrderSaga:
    """One order's saga; :meth:`run` executes it to its end within one shadow transaction."""

    ctx: FlowContext
    root: OutboxRow
    state: str = "started"
    steps: list[str] = field(default_factory=list)

    def _to(self, state: str, step: str) -> None:
        self.state = state
        self.steps.append(step)
        o = self.ctx.order
        self.ctx.rec.changes.sagas[o.order_id] = SagaRow(
            o.order_id, state, tuple(self.steps), self.ctx.rec.now
        )

    def run(self) -> str:
        ctx, o = self.ctx, self.ctx.order
        cause = self.root.id
        self._to("started", "start")
        ctx.project("pending")
        if not ctx.effects.reserve(o, ctx.rec).reserved:
            self._to("failed", "reserve:rejected")
            ev = ctx.emit(OrderFailed(o.order_id, "out_of_stock", o.total), cause=cause)
            return self._finish_failed(ev, "order_failed")
        cause = ctx.emit(InventoryReserved(o.order_id, ctx.stock_lines()), cause=cause).id
        self._to("reserved", "reserve:ok")
        charge = ctx.effects.charge(o, ctx.rec)
        if charge.status == "declined":
            failed = PaymentFailed(
                o.order_id, charge.amount, "card_declined", ctx.method(), charge.attempts
            )
            cause = ctx.emit(failed, cause=cause).id
            self._to("compensating", "charge:declined")
            ctx.effects.release(o, ctx.rec)
            ctx.emit(
                InventoryReleased(o.order_id, ctx.stock_lines(), "payment_declined"), cause=cause
            )
            self._to("failed", "release:ok")
            ev = ctx.emit(OrderFailed(o.order_id, "payment_declined", o.total), cause=cause)
            return self._finish_failed(ev, "payment_declined")
        paid = PaymentCompleted(o.order_id, charge.amount, ctx.method(), charge.attempts)
        cause = ctx.emit(paid, cause=cause).id
        self._to("paid", "charge:captured")
        shipped = ctx.effects.ship(o, ctx.rec)
        carrier: Carrier = "express" if shipped.carrier == "express" else "standard"
        cause = ctx.emit(ShipmentCreated(o.order_id, carrier, shipped.status), cause=cause).id
        self._to("shipped", "ship:ok")
        cause = self._notify("order_confirmation", cause)
        ctx.project("completed", finished=True)
        ctx.emit(OrderCompleted(o.order_id, o.total), cause=cause)
        self._to("completed", "notify:ok")
        return self.state

    def _notify(self, template: str, cause: str) -> str:
        ctx, o = self.ctx, self.ctx.order
        ctx.effects.notify(o, template, ctx.rec)
        sent = NotificationSent(o.order_id, cast(Any, template), o.customer_email)
        return ctx.emit(sent, cause=cause).id

    def _finish_failed(self, failed_event: OutboxRow, template: str) -> str:
        self.ctx.project("failed")
        self._notify(template, failed_event.id)
        self.ctx.project("failed", finished=True)
        self.steps.append(f"notify:{template}")
        self._to("failed", "end")
        return self.state
