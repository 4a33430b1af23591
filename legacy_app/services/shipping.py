"""The shipping service: create a shipment (``express`` from 100.00, else ``standard``)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from flask import Blueprint, Flask, Response, jsonify
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from legacy_app.contracts.domain import carrier_for
from legacy_app.models import ShipmentRecord
from legacy_app.services.common import (
    body_as,
    create_once,
    create_service_app,
    idempotency_key,
    request_correlation,
    sessions,
)

bp = Blueprint("shipping", __name__)


class ShipBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_id: str = Field(min_length=1, max_length=36)
    total: Decimal = Field(ge=0, max_digits=12, decimal_places=2)


def _answer(s: ShipmentRecord) -> dict[str, Any]:
    return {"carrier": s.carrier, "status": s.status, "shipment_id": s.id}


def _by_key(session: Session, key: str) -> ShipmentRecord | None:
    return session.scalars(
        select(ShipmentRecord).where(ShipmentRecord.idempotency_key == key)
    ).first()


@bp.post("/shipments")
def ship() -> tuple[Response, int]:
    key, body = idempotency_key(), body_as(ShipBody)

    def build(_session: Session) -> ShipmentRecord:
        return ShipmentRecord(
            order_id=body.order_id, idempotency_key=key, carrier=carrier_for(body.total),
            status="created", correlation_id=request_correlation(),
        )  # fmt: skip

    return create_once(lambda session: _by_key(session, key), build, _answer)


@bp.post("/shipments/verify")
def ship_verify() -> tuple[Response, int]:
    key, body = idempotency_key(), body_as(ShipBody)
    with sessions()() as session:
        existing = _by_key(session, key)
        if existing is not None:
            return jsonify(_answer(existing)), 200
    return jsonify({"carrier": carrier_for(body.total), "status": "created"}), 200


def create_app(config: Mapping[str, Any] | None = None, **kwargs: Any) -> Flask:
    """The shipping service app."""
    return create_service_app("shipping", bp, config, **kwargs)
