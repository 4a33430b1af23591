"""The order flow on the event side: context handlers (choreography) and their dispatcher.

Choreography, in process. Each context has handlers that react to the previous
event (inventory reacts to ``order.created``, payment to ``inventory.reserved``,
shipping to ``payment.completed``, email to ``shipment.created``/``order.failed``,
the order read model to all of them). A handler that emits the next event
writes it to ``shadow.outbox`` (in the same transaction as its effect, never to
Kafka) and the :class:`FlowContext` queue hands it straight to the handlers that
react to it, inside the same shadow transaction.

Why in process: in ``dual`` mode the shadow must derive one order's outcome
atomically and fast (one transaction per batch); a round trip of every
follow-up event through Debezium and Kafka would add seconds per step and make
the shadow outcome settle much later than the sync one. The follow-up events
still land in ``shadow.outbox`` for any other consumer (an Outbox Event Router
connector on ``shadow.outbox`` routes them to Kafka like the legacy outbox:
``tests/integration/shadow/test_shadow_outbox_cdc.py``), with deterministic ids (derived from the root event id), so
a redelivered or replayed root event emits byte-identical follow-ups. Only
``ENTRY_TYPES`` are taken from Kafka: the legacy's own ``order.completed`` /
``order.failed`` on the same topic are known but ignored, never re-handled.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from cutover.contracts import Contract
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
from legacy_app.contracts.values import Carrier, PaymentMethod, StockLine
from legacy_app.orderflow.changes import OrderStatusRow, OutboxRow
from legacy_app.orderflow.domain import Order
from legacy_app.orderflow.effects import EffectPort, Recorder

NAMESPACE = uuid.UUID("6f1c3c1e-4a55-4f3e-9d8e-5b0c2a7e9d11")
MAX_CHAIN = 32
_NS_BYTES = NAMESPACE.bytes


_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}  # RFC 4122 variant bits


def derived_id(name: str) -> str:
    """``str(uuid.uuid5(NAMESPACE, name))``, computed on the SHA-1 hex digest without building
    UUID objects (version nibble ``5``, variant bits ``10``)."""
    h = hashlib.sha1(_NS_BYTES + name.encode(), usedforsecurity=False).hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


@dataclass(slots=True)
class FlowContext:
    """Everything a handler needs for one root event."""

    order: Order
    root_event_id: str
    correlation_id: str
    rec: Recorder
    effects: EffectPort
    event_ts: datetime
    queue: deque[OutboxRow] = field(default_factory=deque)
    emitted: int = 0
    _id_base: str = ""

    def emit(self, payload: Contract, *, cause: str) -> OutboxRow:
        """Write ``payload`` to the shadow outbox and queue its row for the next handlers.

        Its id is the root event's :func:`derived_id` with the emission's number in the last
        16 bits: deterministic (a redelivered root emits the same ids), unique per root, and
        one hash per root instead of one per follow-up.
        """
        self.emitted += 1
        if not self._id_base:
            self._id_base = derived_id(self.root_event_id)[:-4]
        row = OutboxRow(
            f"{self._id_base}{self.emitted:04x}",
            payload.aggregate_type,
            payload.subject,
            payload.type,
            payload.to_dict(),
            self.correlation_id,
            cause,
        )
        self.rec.changes.outbox.append(row)
        self.queue.append(row)
        return row

    def project(self, status: str, *, finished: bool = False) -> None:
        """Update the order read model (``shadow.order_status``)."""
        o = self.order
        now = self.rec.now
        self.rec.changes.put_order(
            OrderStatusRow(
                o.order_id,
                self.correlation_id,
                status,
                o.total,
                o.customer_email,
                now,
                now if finished else None,
                self.event_ts,
            )
        )

    def stock_lines(self) -> tuple[StockLine, ...]:
        return tuple(StockLine(s, q) for s, q in self.order.quantities().items())

    def method(self) -> PaymentMethod:
        return cast(PaymentMethod, self.order.payment_method)


Handler = Callable[[OutboxRow, FlowContext], None]
"""Reacts to one event: an outbox row (the legacy's root event, or a follow-up just emitted)."""


# ----------------------------------------------------------------- inventory
def inventory_reserve(ev: OutboxRow, ctx: FlowContext) -> None:
    result = ctx.effects.reserve(ctx.order, ctx.rec)
    if result.reserved:
        ctx.emit(InventoryReserved(ctx.order.order_id, ctx.stock_lines()), cause=ev.id)
    else:
        ctx.emit(OrderFailed(ctx.order.order_id, "out_of_stock", ctx.order.total), cause=ev.id)


def inventory_release(ev: OutboxRow, ctx: FlowContext) -> None:
    ctx.effects.release(ctx.order, ctx.rec)
    o = ctx.order
    ctx.emit(InventoryReleased(o.order_id, ctx.stock_lines(), "payment_declined"), cause=ev.id)


# ------------------------------------------------------------------- payment
def payment_charge(ev: OutboxRow, ctx: FlowContext) -> None:
    o = ctx.order
    result = ctx.effects.charge(o, ctx.rec)
    if result.status == "captured":
        ctx.emit(
            PaymentCompleted(o.order_id, result.amount, ctx.method(), result.attempts),
            cause=ev.id,
        )
    else:
        failed = PaymentFailed(
            o.order_id, result.amount, "card_declined", ctx.method(), result.attempts
        )
        ctx.emit(failed, cause=ev.id)


# ------------------------------------------------------------------ shipping
def shipping_ship(ev: OutboxRow, ctx: FlowContext) -> None:
    result = ctx.effects.ship(ctx.order, ctx.rec)
    carrier: Carrier = "express" if result.carrier == "express" else "standard"
    ctx.emit(ShipmentCreated(ctx.order.order_id, carrier, result.status), cause=ev.id)


# --------------------------------------------------------------------- email
def _notify(ev: OutboxRow, ctx: FlowContext, template: str) -> None:
    ctx.effects.notify(ctx.order, template, ctx.rec)
    sent = NotificationSent(ctx.order.order_id, cast(Any, template), ctx.order.customer_email)
    ctx.emit(sent, cause=ev.id)


def email_confirmation(ev: OutboxRow, ctx: FlowContext) -> None:
    _notify(ev, ctx, "order_confirmation")


def email_failure(ev: OutboxRow, ctx: FlowContext) -> None:
    declined = ev.payload.get("reason") == "payment_declined"
    _notify(ev, ctx, "payment_declined" if declined else "order_failed")


# ------------------------------------------------------- order (read model)
def order_pending(ev: OutboxRow, ctx: FlowContext) -> None:
    ctx.project("pending")


def order_payment_failed(ev: OutboxRow, ctx: FlowContext) -> None:
    ctx.project("failed")
    ctx.emit(OrderFailed(ctx.order.order_id, "payment_declined", ctx.order.total), cause=ev.id)


def order_failed(ev: OutboxRow, ctx: FlowContext) -> None:
    ctx.project("failed")


def order_notified(ev: OutboxRow, ctx: FlowContext) -> None:
    if ev.payload.get("template") == "order_confirmation":
        ctx.project("completed", finished=True)
        ctx.emit(OrderCompleted(ctx.order.order_id, ctx.order.total), cause=ev.id)
    else:
        ctx.project("failed", finished=True)


# (context, event type) -> handler; the order of the list is the order of dispatch.
CHOREOGRAPHY: tuple[tuple[str, str, Handler], ...] = (
    ("order", "order.created", order_pending),
    ("inventory", "order.created", inventory_reserve),
    ("payment", "inventory.reserved", payment_charge),
    ("inventory", "payment.failed", inventory_release),
    ("order", "payment.failed", order_payment_failed),
    ("shipping", "payment.completed", shipping_ship),
    ("email", "shipment.created", email_confirmation),
    ("email", "order.failed", email_failure),
    ("order", "order.failed", order_failed),
    ("order", "notification.sent", order_notified),
)


def routes(contexts: frozenset[str]) -> dict[str, list[Handler]]:
    """Event type -> handlers of the active ``contexts``, in dispatch order."""
    out: dict[str, list[Handler]] = {}
    for context, event_type, handler in CHOREOGRAPHY:
        if context in contexts:
            out.setdefault(event_type, []).append(handler)
    return out


def run_choreography(root: OutboxRow, ctx: FlowContext, table: Mapping[str, list[Handler]]) -> int:
    """Dispatch ``root`` and every follow-up it causes; returns the number of handler calls."""
    ctx.queue.append(root)
    calls = 0
    while ctx.queue:
        ev = ctx.queue.popleft()
        for handler in table.get(ev.type, ()):
            handler(ev, ctx)
            calls += 1
            if calls > MAX_CHAIN:
                raise RuntimeError(f"event chain of {root.type} exceeds {MAX_CHAIN} steps")
    return calls
