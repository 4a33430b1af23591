"""Ports of the downstream services, their answers, and the HTTP adapters.

The order flow only sees the :class:`InventoryPort`, :class:`PaymentPort`,
:class:`ShippingPort` and :class:`EmailPort` protocols; the HTTP adapters
below call the real services, :mod:`legacy_app.fakes` holds in-memory fakes.
Every method takes ``verify``: a verify (dry-run) call returns the answer the
service would give without committing anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, Protocol

from legacy_app.circuit import CircuitBreaker
from legacy_app.config import DOWNSTREAMS, AppConfig
from legacy_app.contracts.values import StockLine, money
from legacy_app.http import CallPolicy, HttpCaller


@dataclass(frozen=True, slots=True)
class Call:
    """Who a downstream call is for: the order (business key) and the request's correlation id."""

    order_id: str
    correlation_id: str

    def key(self, operation: str) -> str:
        """The idempotency key of ``operation`` for this order."""
        return f"{self.order_id}:{operation}"


@dataclass(frozen=True, slots=True)
class ReserveAnswer:
    status: Literal["reserved", "rejected"]
    lines: tuple[StockLine, ...]
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ReleaseAnswer:
    status: Literal["released", "none"]
    lines: tuple[StockLine, ...] = ()


@dataclass(frozen=True, slots=True)
class ChargeAnswer:
    status: Literal["captured", "declined"]
    amount: Decimal


@dataclass(frozen=True, slots=True)
class RefundAnswer:
    status: Literal["refunded", "none"]
    amount: Decimal = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class ShipAnswer:
    carrier: str
    status: str


@dataclass(frozen=True, slots=True)
class NotifyAnswer:
    template: str
    recipient: str


class InventoryPort(Protocol):
    def reserve(
        self, call: Call, lines: Sequence[StockLine], *, verify: bool = False
    ) -> ReserveAnswer: ...

    def release(
        self, call: Call, lines: Sequence[StockLine], *, verify: bool = False
    ) -> ReleaseAnswer: ...


class PaymentPort(Protocol):
    def charge(
        self, call: Call, amount: Decimal, payment_method: str, *, verify: bool = False
    ) -> ChargeAnswer: ...

    def refund(self, call: Call, amount: Decimal, *, verify: bool = False) -> RefundAnswer: ...


class ShippingPort(Protocol):
    def ship(self, call: Call, total: Decimal, *, verify: bool = False) -> ShipAnswer: ...


class EmailPort(Protocol):
    def notify(
        self, call: Call, template: str, recipient: str, *, verify: bool = False
    ) -> NotifyAnswer: ...


@dataclass(frozen=True, slots=True)
class Downstreams:
    """The four downstream ports the order flow calls."""

    inventory: InventoryPort
    payment: PaymentPort
    shipping: ShippingPort
    email: EmailPort


def lines_of(data: Any) -> tuple[StockLine, ...]:
    return tuple(StockLine(str(x["sku"]), int(x["qty"])) for x in (data or []))


def _lines_json(lines: Sequence[StockLine]) -> list[dict[str, Any]]:
    return [{"sku": ln.sku, "qty": ln.qty} for ln in lines]


def _path(path: str, verify: bool) -> str:
    return f"{path}/verify" if verify else path


class HttpInventory:
    def __init__(self, caller: HttpCaller) -> None:
        self._http = caller

    def reserve(
        self, call: Call, lines: Sequence[StockLine], *, verify: bool = False
    ) -> ReserveAnswer:
        body = {"order_id": call.order_id, "lines": _lines_json(lines)}
        data = self._http.post(
            "reserve", _path("/reserve", verify), body,
            idempotency_key=call.key("reserve"), correlation_id=call.correlation_id,
        )  # fmt: skip
        return ReserveAnswer(data["status"], lines_of(data.get("lines")), data.get("reason"))

    def release(
        self, call: Call, lines: Sequence[StockLine], *, verify: bool = False
    ) -> ReleaseAnswer:
        body = {"order_id": call.order_id, "lines": _lines_json(lines)}
        data = self._http.post(
            "release", _path("/release", verify), body,
            idempotency_key=call.key("release"), correlation_id=call.correlation_id,
        )  # fmt: skip
        return ReleaseAnswer(data["status"], lines_of(data.get("lines")))


class HttpPayment:
    def __init__(self, caller: HttpCaller) -> None:
        self._http = caller

    def charge(
        self, call: Call, amount: Decimal, payment_method: str, *, verify: bool = False
    ) -> ChargeAnswer:
        body = {
            "order_id": call.order_id,
            "amount": str(money(amount)),
            "currency": "EUR",
            "payment_method": payment_method,
        }
        data = self._http.post(
            "charge", _path("/charge", verify), body,
            idempotency_key=call.key("charge"), correlation_id=call.correlation_id,
        )  # fmt: skip
        return ChargeAnswer(data["status"], money(data["amount"]))

    def refund(self, call: Call, amount: Decimal, *, verify: bool = False) -> RefundAnswer:
        body = {"order_id": call.order_id, "amount": str(money(amount))}
        data = self._http.post(
            "refund", _path("/refund", verify), body,
            idempotency_key=call.key("refund"), correlation_id=call.correlation_id,
        )  # fmt: skip
        return RefundAnswer(data["status"], money(data.get("amount", "0")))


class HttpShipping:
    def __init__(self, caller: HttpCaller) -> None:
        self._http = caller

    def ship(self, call: Call, total: Decimal, *, verify: bool = False) -> ShipAnswer:
        body = {"order_id": call.order_id, "total": str(money(total))}
        data = self._http.post(
            "ship", _path("/shipments", verify), body,
            idempotency_key=call.key("ship"), correlation_id=call.correlation_id,
        )  # fmt: skip
        return ShipAnswer(str(data["carrier"]), str(data["status"]))


class HttpEmail:
    def __init__(self, caller: HttpCaller) -> None:
        self._http = caller

    def notify(
        self, call: Call, template: str, recipient: str, *, verify: bool = False
    ) -> NotifyAnswer:
        body = {"order_id": call.order_id, "template": template, "recipient": recipient}
        data = self._http.post(
            "notify", _path("/notifications", verify), body,
            idempotency_key=call.key(f"notify:{template}"), correlation_id=call.correlation_id,
        )  # fmt: skip
        return NotifyAnswer(str(data["template"]), str(data["recipient"]))


def http_downstreams(config: AppConfig) -> Downstreams:
    """HTTP adapters for the four services, each with its own circuit breaker."""
    policy = CallPolicy.from_config(config)
    callers = {
        svc: HttpCaller(
            svc,
            config.service_url(svc),
            policy,
            CircuitBreaker(
                svc,
                failure_threshold=config.breaker_failures,
                reset_seconds=config.breaker_reset_seconds,
            ),
        )
        for svc in DOWNSTREAMS
    }
    return Downstreams(
        inventory=HttpInventory(callers["inventory"]),
        payment=HttpPayment(callers["payment"]),
        shipping=HttpShipping(callers["shipping"]),
        email=HttpEmail(callers["email"]),
    )
