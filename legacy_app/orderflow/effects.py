"""Side effects of the order flow behind one port: recorded (``dual``) or performed (``async``).

:class:`EffectPort` is what handlers and the saga call. Two adapters:

* :class:`RecordingEffects` (``dual`` mode) decides what the real service *would*
  do with the sample's rules (stock from ``shadow.stock``, decline iff
  ``card_declined``, carrier by total) and records that intended effect. It never
  calls a service.
* :class:`HttpEffects` (``async`` mode) performs the effect over HTTP on the
  downstream services (each behind a :class:`~shadow.breaker.CircuitBreaker`,
  with ``Idempotency-Key`` = order id + operation, so a redelivered event is
  applied once) and records the answer.

Either way the outcome lands in the shadow store through a :class:`Recorder`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

import requests
import structlog

from cutover.shadow import (
    CircuitBreaker,
    CircuitOpenError,
    EffectRejectedError,
    TransientError,
    record,
)
from legacy_app.contracts.values import money
from legacy_app.orderflow.changes import (
    Changes,
    NotificationRow,
    PaymentRow,
    ReservationRow,
    ShipmentRow,
)
from legacy_app.orderflow.domain import Order

log = structlog.get_logger(__name__)

SERVICE_PORTS: dict[str, int] = {
    "inventory": 5001,
    "payment": 5002,
    "shipping": 5003,
    "email": 5004,
}


@record
class ReserveResult:
    reserved: bool
    reason: str | None = None


@record
class ChargeResult:
    status: Literal["captured", "declined"]
    amount: Decimal
    attempts: int = 1


@record
class ShipResult:
    carrier: str
    status: str


class Recorder:
    """Writes one message's effects into its :class:`Changes` buffer.

    Stock seen by a message = stock locked at batch start, minus what the
    batch's earlier messages took, minus what this message took.
    """

    def __init__(
        self, changes: Changes, batch: Changes, stock: Mapping[str, int], now: datetime
    ) -> None:
        self.changes = changes
        self._batch = batch
        self._stock = stock
        self.now = now

    def available(self, sku: str) -> int:
        if sku not in self._stock:
            return 0
        taken = self._batch.stock_delta.get(sku, 0) + self.changes.stock_delta.get(sku, 0)
        return self._stock[sku] - taken

    def reservation(self, order: Order, *, released: bool, adjust_stock: bool = True) -> None:
        for sku, qty in order.quantities().items():
            self.changes.reservations[(order.order_id, sku)] = ReservationRow(
                order.order_id, sku, qty, released
            )
            if adjust_stock:
                delta = -qty if released else qty
                self.changes.stock_delta[sku] = self.changes.stock_delta.get(sku, 0) + delta

    def payment(self, order: Order, status: str, attempts: int) -> None:
        self.changes.payments[order.order_id] = PaymentRow(
            order.order_id, order.total, status, attempts
        )

    def shipment(self, order: Order, carrier: str, status: str) -> None:
        self.changes.shipments[order.order_id] = ShipmentRow(order.order_id, carrier, status)

    def notification(self, order: Order, template: str) -> None:
        key = (order.order_id, template)
        self.changes.notifications[key] = NotificationRow(
            order.order_id, template, order.customer_email
        )


class EffectPort(Protocol):
    """The side effects of the order flow."""

    def reserve(self, order: Order, rec: Recorder) -> ReserveResult: ...

    def release(self, order: Order, rec: Recorder) -> None: ...

    def charge(self, order: Order, rec: Recorder) -> ChargeResult: ...

    def ship(self, order: Order, rec: Recorder) -> ShipResult: ...

    def notify(self, order: Order, template: str, rec: Recorder) -> None: ...


class RecordingEffects:
    """``dual`` mode: record the intended effect, decided with the sample's rules."""

    def reserve(self, order: Order, rec: Recorder) -> ReserveResult:
        for sku, qty in order.quantities().items():
            if rec.available(sku) < qty:
                return ReserveResult(False, f"out_of_stock:{sku}")
        rec.reservation(order, released=False)
        return ReserveResult(True)

    def release(self, order: Order, rec: Recorder) -> None:
        rec.reservation(order, released=True)

    def charge(self, order: Order, rec: Recorder) -> ChargeResult:
        status: Literal["captured", "declined"] = "declined" if order.declines() else "captured"
        rec.payment(order, status, 1)
        return ChargeResult(status, order.total)

    def ship(self, order: Order, rec: Recorder) -> ShipResult:
        carrier = order.carrier()
        rec.shipment(order, carrier, "created")
        return ShipResult(carrier, "created")

    def notify(self, order: Order, template: str, rec: Recorder) -> None:
        rec.notification(order, template)


Post = Callable[[str, dict[str, Any], dict[str, str], float], tuple[int, Any]]


def requests_post(session: requests.Session) -> Post:
    """A :data:`Post` over a requests session: ``(status, json or None)``; network errors raise."""

    def post(
        url: str, body: dict[str, Any], headers: dict[str, str], timeout: float
    ) -> tuple[int, Any]:
        resp = session.post(url, json=body, headers=headers, timeout=timeout)
        try:
            return resp.status_code, resp.json()
        except ValueError:
            return resp.status_code, None

    return post


class HttpEffects:
    """``async`` mode: perform the effect on the downstream services, then record the answer."""

    def __init__(
        self,
        base_urls: Mapping[str, str],
        *,
        breakers: Mapping[str, CircuitBreaker] | None = None,
        post: Post | None = None,
        timeout: float = 5.0,
    ) -> None:
        self._urls = {k: v.rstrip("/") for k, v in base_urls.items()}
        self.breakers = dict(breakers or {s: CircuitBreaker(s) for s in self._urls})
        self._post = post or requests_post(requests.Session())
        self._timeout = timeout
        self.correlation_id = ""

    def bind_correlation(self, correlation_id: str) -> None:
        """Carry ``correlation_id`` (``X-Correlation-ID``) on the calls for the next event."""
        self.correlation_id = correlation_id

    def _call(self, service: str, path: str, body: dict[str, Any], key: str) -> dict[str, Any]:
        breaker = self.breakers[service]
        if not breaker.allow():
            raise CircuitOpenError(service, breaker.retry_after())
        headers = {"Idempotency-Key": key, "X-Correlation-ID": self.correlation_id}
        try:
            status, data = self._post(self._urls[service] + path, body, headers, self._timeout)
        except requests.RequestException as exc:
            breaker.record_failure()
            raise TransientError(f"{service}{path}: {type(exc).__name__}", service=service) from exc
        if status >= 500 or not isinstance(data, dict):
            breaker.record_failure()
            raise TransientError(f"{service}{path}: HTTP {status}", service=service)
        breaker.record_success()
        if status >= 400:
            raise EffectRejectedError(service, status, str(data.get("error", data))[:200])
        return data

    @staticmethod
    def _lines(order: Order) -> list[dict[str, Any]]:
        return [{"sku": s, "qty": q} for s, q in order.quantities().items()]

    def reserve(self, order: Order, rec: Recorder) -> ReserveResult:
        body = {"order_id": order.order_id, "lines": self._lines(order)}
        data = self._call("inventory", "/reserve", body, f"{order.order_id}:reserve")
        if data.get("status") != "reserved":
            return ReserveResult(False, str(data.get("reason") or "rejected"))
        rec.reservation(order, released=False, adjust_stock=False)
        return ReserveResult(True)

    def release(self, order: Order, rec: Recorder) -> None:
        body = {"order_id": order.order_id, "lines": self._lines(order)}
        self._call("inventory", "/release", body, f"{order.order_id}:release")
        rec.reservation(order, released=True, adjust_stock=False)

    def charge(self, order: Order, rec: Recorder) -> ChargeResult:
        body = {
            "order_id": order.order_id,
            "amount": str(order.total),
            "currency": order.currency,
            "payment_method": order.payment_method,
        }
        data = self._call("payment", "/charge", body, f"{order.order_id}:charge")
        status: Literal["captured", "declined"] = (
            "declined" if data.get("status") == "declined" else "captured"
        )
        rec.payment(order, status, 1)
        return ChargeResult(status, money(data.get("amount", order.total)))

    def ship(self, order: Order, rec: Recorder) -> ShipResult:
        body = {"order_id": order.order_id, "total": str(order.total)}
        data = self._call("shipping", "/shipments", body, f"{order.order_id}:ship")
        result = ShipResult(str(data.get("carrier")), str(data.get("status", "created")))
        rec.shipment(order, result.carrier, result.status)
        return result

    def notify(self, order: Order, template: str, rec: Recorder) -> None:
        body = {"order_id": order.order_id, "template": template, "recipient": order.customer_email}
        self._call("email", "/notifications", body, f"{order.order_id}:notify:{template}")
        rec.notification(order, template)


def default_service_urls(host: str = "127.0.0.1") -> dict[str, str]:
    """The sample's downstream services on their default ports."""
    return {svc: f"http://{host}:{port}" for svc, port in SERVICE_PORTS.items()}
