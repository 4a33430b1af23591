"""The inventory service: reserve every line of an order (all or nothing), release it.

``POST /reserve`` and ``POST /release`` (``/verify`` suffix: the same answer,
nothing committed). A reserve request is stored under its idempotency key,
also when it was rejected, so a retry gets the first answer back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, jsonify
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from legacy_app.models import InventoryStock, Reservation, ReservationLine
from legacy_app.services.common import (
    body_as,
    create_once,
    create_service_app,
    idempotency_key,
    request_correlation,
    sessions,
)

bp = Blueprint("inventory", __name__)


class Line(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    sku: str = Field(min_length=1, max_length=64)
    qty: int = Field(gt=0)


class LinesBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    order_id: str = Field(min_length=1, max_length=36)
    lines: list[Line] = Field(default_factory=list)


def _answer(res: Reservation) -> dict[str, Any]:
    lines = [{"sku": ln.sku, "qty": ln.qty} for ln in res.lines]
    status = "rejected" if res.status == "rejected" else "reserved"
    return {"status": status, "lines": lines, "reason": res.reason, "reservation_id": res.id}


def _by_key(session: Session, key: str) -> Reservation | None:
    return session.scalars(select(Reservation).where(Reservation.idempotency_key == key)).first()


def _shortage(session: Session, lines: list[Line]) -> str | None:
    rows = session.execute(
        select(InventoryStock.sku, InventoryStock.on_hand).where(
            InventoryStock.sku.in_([ln.sku for ln in lines])
        )
    )
    stock = {sku: on_hand for sku, on_hand in rows}
    short = next((ln for ln in lines if stock.get(ln.sku, 0) < ln.qty), None)
    return None if short is None else f"out_of_stock:{short.sku}"


def _take(session: Session, lines: list[Line]) -> str | None:
    """Decrement every line (SKU order, so concurrent reservations do not deadlock) or none."""
    nested = session.begin_nested()
    for ln in sorted(lines, key=lambda x: x.sku):
        taken = session.execute(
            update(InventoryStock)
            .where(InventoryStock.sku == ln.sku, InventoryStock.on_hand >= ln.qty)
            .values(on_hand=InventoryStock.on_hand - ln.qty)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            nested.rollback()
            return f"out_of_stock:{ln.sku}"
    nested.commit()
    return None


@bp.post("/reserve")
def reserve() -> tuple[Response, int]:
    key, body = idempotency_key(), body_as(LinesBody)

    def build(session: Session) -> Reservation:
        reason = _take(session, body.lines)
        res = Reservation(
            order_id=body.order_id, idempotency_key=key, correlation_id=request_correlation(),
            status="rejected" if reason else "reserved", reason=reason,
        )  # fmt: skip
        if reason is None:
            res.lines = [
                ReservationLine(sku=ln.sku, qty=ln.qty)
                for ln in sorted(body.lines, key=lambda x: x.sku)
            ]
        return res

    return create_once(lambda session: _by_key(session, key), build, _answer)


@bp.post("/reserve/verify")
def reserve_verify() -> tuple[Response, int]:
    key, body = idempotency_key(), body_as(LinesBody)
    with sessions()() as session:
        existing = _by_key(session, key)
        if existing is not None:
            return jsonify(_answer(existing)), 200
        reason = _shortage(session, body.lines)
    lines = (
        []
        if reason
        else [{"sku": ln.sku, "qty": ln.qty} for ln in sorted(body.lines, key=lambda x: x.sku)]
    )
    return jsonify(
        {"status": "rejected" if reason else "reserved", "lines": lines, "reason": reason}
    ), 200


def _reserved(session: Session, order_id: str, *, lock: bool) -> Reservation | None:
    stmt = select(Reservation).where(
        Reservation.order_id == order_id, Reservation.status == "reserved"
    )
    return session.scalars(stmt.with_for_update() if lock else stmt).first()


@bp.post("/release")
def release() -> tuple[Response, int]:
    idempotency_key()
    body = body_as(LinesBody)
    with sessions()() as session, session.begin():
        res = _reserved(session, body.order_id, lock=True)
        if res is None:
            return jsonify({"status": "none", "lines": []}), 200
        for ln in res.lines:
            session.execute(
                update(InventoryStock)
                .where(InventoryStock.sku == ln.sku)
                .values(on_hand=InventoryStock.on_hand + ln.qty)
            )
        res.status = "released"
        res.released_at = datetime.now(UTC)
        lines = [{"sku": ln.sku, "qty": ln.qty} for ln in res.lines]
    return jsonify({"status": "released", "lines": lines}), 200


@bp.post("/release/verify")
def release_verify() -> tuple[Response, int]:
    idempotency_key()
    body = body_as(LinesBody)
    with sessions()() as session:
        res = _reserved(session, body.order_id, lock=False)
        if res is not None:
            lines = [{"sku": ln.sku, "qty": ln.qty} for ln in res.lines]
        else:  # nothing reserved for real (verify run): would release what was asked
            lines = [
                {"sku": ln.sku, "qty": ln.qty} for ln in sorted(body.lines, key=lambda x: x.sku)
            ]
    return jsonify({"status": "released" if lines else "none", "lines": lines}), 200


def create_app(config: Mapping[str, Any] | None = None, **kwargs: Any) -> Flask:
    """The inventory service app."""
    return create_service_app("inventory", bp, config, **kwargs)
