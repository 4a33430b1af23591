"""The synchronous order flow (the saga) with its compensations — no HTTP, no SQL here.

reserve every line → charge the total → ship → notify → completed.

* a line short of stock: order ``failed`` (``out_of_stock``), nothing reserved,
  notification ``order_failed``;
* a declined charge: the reservation is released, order ``failed``
  (``payment_declined``), notification ``payment_declined``;
* a downstream that stays unavailable (timeouts, 5xx, open circuit) or rejects
  the call: order ``failed`` (``<service>_unavailable`` / ``_rejected`` /
  ``_sync_disabled``) and what was done is compensated in reverse (refund — also
  when the charge's answer was lost —, release); notification ``order_failed``;
* email is best effort: a failed notification is kept in ``errors`` but does
  not fail an order that is already paid and shipped.

Every call that got no answer (a downstream unavailable) is named in
:attr:`FlowResult.unavailable`: a verify run with any such call is *inconclusive* —
it says how the infrastructure behaved, not what the sync logic decides.

Each call goes through :class:`CallGate`, which applies the context's mode through the
context's ``cutover.Migration``: real call (``sync``/``dual``/``naive-dual``), verify call
whose answer the runner records (``async``, or when the whole flow runs as a verify run),
or no call at all, recorded as blocked by the runner (``events-only``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any, Literal, TypeVar

import structlog

import cutover
from cutover import Mode
from legacy_app.contracts.values import OrderLine, StockLine
from legacy_app.downstream import Call, Downstreams
from legacy_app.errors import (
    DownstreamError,
    DownstreamRejected,
    DownstreamUnavailable,
    SyncCallDisabled,
)
from legacy_app.ledger import Migrations

log = structlog.get_logger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    """What the flow needs to know about a stored order."""

    order_id: str
    correlation_id: str
    customer_email: str
    lines: tuple[OrderLine, ...]
    total: Decimal
    payment_method: str

    @property
    def stock_lines(self) -> tuple[StockLine, ...]:
        return tuple(StockLine(ln.sku, ln.qty) for ln in self.lines)

    @property
    def call(self) -> Call:
        return Call(self.order_id, self.correlation_id)


@dataclass(frozen=True, slots=True)
class FlowResult:
    """How the flow ended: ``completed`` or ``failed`` (with ``reason``), plus non-fatal errors
    and the calls (``service.operation``) that got no answer."""

    status: Literal["completed", "failed"]
    reason: str | None = None
    errors: tuple[str, ...] = ()
    unavailable: tuple[str, ...] = ()


def _as_dict(answer: Any) -> dict[str, Any]:
    data = asdict(answer)
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in data.items()}


class CallGate:
    """Applies each context's mode to one downstream call (through its ``cutover.Migration``)."""

    def __init__(self, migrations: Migrations, call: Call, *, verify_all: bool) -> None:
        self._migrations = migrations
        self._call = call
        self._verify_all = verify_all

    def run(self, context: str, operation: str, fn: Callable[[bool], T]) -> T:
        migration = self._migrations(context)
        mode = migration.mode()
        if mode is Mode.EVENTS_ONLY:
            try:
                return migration.call_sync(operation, lambda: fn(False), key=self._call.order_id)
            except cutover.SyncCallBlocked:
                raise SyncCallDisabled(context, operation) from None
        verify = self._verify_all or mode is Mode.ASYNC
        answer = fn(verify)
        if verify:
            migration.record_verify(
                self._call.order_id,
                operation,
                _as_dict(answer),
                correlation_id=self._call.correlation_id,
            )
        return answer


def _failure_reason(exc: DownstreamError) -> str:
    if isinstance(exc, SyncCallDisabled):
        return f"{exc.service}_sync_disabled"
    if isinstance(exc, DownstreamRejected):
        return f"{exc.service}_rejected"
    return f"{exc.service}_unavailable"


class OrderSaga:
    """Runs the flow for one order; ``verify_all`` makes every call a dry run."""

    def __init__(
        self,
        order: PlacedOrder,
        ports: Downstreams,
        migrations: Migrations,
        *,
        verify_all: bool = False,
    ) -> None:
        self.order = order
        self.ports = ports
        self.gate = CallGate(migrations, order.call, verify_all=verify_all)
        self._undo: list[tuple[str, Callable[[], object]]] = []
        self._errors: list[str] = []
        self._unavailable: list[str] = []

    def run(self) -> FlowResult:
        o, call = self.order, self.order.call
        try:
            reserved = self.gate.run(
                "inventory",
                "reserve",
                lambda v: self.ports.inventory.reserve(call, o.stock_lines, verify=v),
            )
            if reserved.status == "rejected":
                return self._fail("out_of_stock", "order_failed")
            self._push(
                "release",
                "inventory",
                lambda v: self.ports.inventory.release(call, reserved.lines, verify=v),
            )
            self._push(
                "refund", "payment", lambda v: self.ports.payment.refund(call, o.total, verify=v)
            )
            charged = self.gate.run(
                "payment",
                "charge",
                lambda v: self.ports.payment.charge(call, o.total, o.payment_method, verify=v),
            )
            if charged.status == "declined":
                self._undo.pop()  # nothing was captured: no refund
                return self._fail("payment_declined", "payment_declined")
            self.gate.run(
                "shipping", "ship", lambda v: self.ports.shipping.ship(call, o.total, verify=v)
            )
        except DownstreamError as exc:
            log.warning("order_step_failed", order_id=o.order_id, error=str(exc))
            self._note(exc)
            return self._fail(_failure_reason(exc), "order_failed")
        self._notify("order_confirmation")
        return self._result("completed", None)

    def _note(self, exc: DownstreamError) -> None:
        if isinstance(exc, DownstreamUnavailable):
            self._unavailable.append(f"{exc.service}.{exc.operation}")

    def _result(self, status: Literal["completed", "failed"], reason: str | None) -> FlowResult:
        return FlowResult(status, reason, tuple(self._errors), tuple(self._unavailable))

    def _push(self, operation: str, context: str, fn: Callable[[bool], object]) -> None:
        self._undo.append((f"{context}.{operation}", lambda: self.gate.run(context, operation, fn)))

    def _fail(self, reason: str, template: str) -> FlowResult:
        for name, undo in reversed(self._undo):
            try:
                undo()
            except DownstreamError as exc:
                log.error(
                    "compensation_failed", order_id=self.order.order_id, step=name, error=str(exc)
                )
                self._errors.append(f"{name}: {exc.reason}")
                self._note(exc)
        self._undo.clear()
        self._notify(template)
        return self._result("failed", reason)

    def _notify(self, template: str) -> None:
        o = self.order
        try:
            self.gate.run(
                "email",
                "notify",
                lambda v: self.ports.email.notify(o.call, template, o.customer_email, verify=v),
            )
        except DownstreamError as exc:
            log.warning(
                "notification_failed", order_id=o.order_id, template=template, error=str(exc)
            )
            self._errors.append(f"email.notify: {exc.reason}")
            self._note(exc)


def run_saga(
    order: PlacedOrder,
    ports: Downstreams,
    migrations: Migrations,
    *,
    verify_all: bool = False,
) -> FlowResult:
    """Run the order flow once (each context's mode from ``migrations``) and say how it ended."""
    return OrderSaga(order, ports, migrations, verify_all=verify_all).run()
