"""The payment service: charge (declined iff ``payment_method == "card_declined"``), refund.

``POST /charge`` and ``POST /refund`` (``/verify`` suffix: dry run). One
payment row per idempotency key; a retried charge returns the first answer
and is applied once (``requests`` counts how often it was asked).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask import Blueprint, Flask, Response, jsonify
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from legacy_app.contracts.values import money
from legacy_app.models import PaymentRecord
from legacy_app.services.common import (
    body_as,
    create_once,
    create_service_app,
    idempotency_key,
    request_correlation,
    sessions,
)

bp = Blueprint("payment", __name__)
DECLINING_METHOD = "card_declined"


class ChargeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_id: str = Field(min_length=1, max_length=36)
    amount: Decimal = Field(ge=0, max_digits=12, decimal_places=2)
    currency: str = Field(default="EUR", min_length=3, max_length=3)
    payment_method: str = Field(min_length=1, max_length=40)


class RefundBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_id: str = Field(min_length=1, max_length=36)
    amount: Decimal | None = None


def decide(payment_method: str) -> str:
    """The deterministic rule of the sample: ``card_declined`` is declined, the rest captured."""
    return "declined" if payment_method == DECLINING_METHOD else "captured"


def _answer(p: PaymentRecord) -> dict[str, Any]:
    status = "declined" if p.status == "declined" else "captured"
    return {"status": status, "amount": str(money(p.amount)), "payment_id": p.id}


def _by_key(session: Session, key: str) -> PaymentRecord | None:
    return session.scalars(
        select(PaymentRecord).where(PaymentRecord.idempotency_key == key)
    ).first()


@bp.post("/charge")
def charge() -> tuple[Response, int]:
    key, body = idempotency_key(), body_as(ChargeBody)

    def build(_session: Session) -> PaymentRecord:
        return PaymentRecord(
            order_id=body.order_id, idempotency_key=key, amount=money(body.amount),
            currency=body.currency, payment_method=body.payment_method,
            status=decide(body.payment_method), requests=1,
            correlation_id=request_correlation(),
        )  # fmt: skip

    def count_request(existing: PaymentRecord) -> None:
        existing.requests += 1

    return create_once(
        lambda session: _by_key(session, key), build, _answer, on_repeat=count_request
    )


@bp.post("/charge/verify")
def charge_verify() -> tuple[Response, int]:
    key, body = idempotency_key(), body_as(ChargeBody)
    with sessions()() as session:
        existing = _by_key(session, key)
        if existing is not None:
            return jsonify(_answer(existing)), 200
    return jsonify({"status": decide(body.payment_method), "amount": str(money(body.amount))}), 200


def _captured(session: Session, order_id: str, *, lock: bool) -> PaymentRecord | None:
    stmt = select(PaymentRecord).where(
        PaymentRecord.order_id == order_id, PaymentRecord.status == "captured"
    )
    return session.scalars(stmt.with_for_update() if lock else stmt).first()


@bp.post("/refund")
def refund() -> tuple[Response, int]:
    idempotency_key()
    body = body_as(RefundBody)
    with sessions()() as session, session.begin():
        payment = _captured(session, body.order_id, lock=True)
        if payment is None:
            return jsonify({"status": "none", "amount": "0.00"}), 200
        payment.status = "refunded"
        payment.refunded_at = datetime.now(UTC)
        amount = str(money(payment.amount))
    return jsonify({"status": "refunded", "amount": amount}), 200


@bp.post("/refund/verify")
def refund_verify() -> tuple[Response, int]:
    idempotency_key()
    body = body_as(RefundBody)
    with sessions()() as session:
        payment = _captured(session, body.order_id, lock=False)
    if payment is not None:
        return jsonify({"status": "refunded", "amount": str(money(payment.amount))}), 200
    if body.amount is not None:  # verify run: nothing captured for real, would refund the amount
        return jsonify({"status": "refunded", "amount": str(money(body.amount))}), 200
    return jsonify({"status": "none", "amount": "0.00"}), 200


def create_app(config: Mapping[str, Any] | None = None, **kwargs: Any) -> Flask:
    """The payment service app."""
    return create_service_app("payment", bp, config, **kwargs)
