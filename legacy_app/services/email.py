"""The email service: record a notification for an order (nothing is really sent)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Flask, Response, jsonify
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from legacy_app.models import NotificationRecord
from legacy_app.services.common import (
    body_as,
    create_once,
    create_service_app,
    idempotency_key,
    request_correlation,
)

bp = Blueprint("email", __name__)


class NotifyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_id: str = Field(min_length=1, max_length=36)
    template: str = Field(min_length=1, max_length=60)
    recipient: str = Field(min_length=3, max_length=320)


def _answer(n: NotificationRecord) -> dict[str, Any]:
    return {
        "template": n.template,
        "recipient": n.recipient,
        "status": "recorded",
        "notification_id": n.id,
    }


def _by_key(session: Session, key: str) -> NotificationRecord | None:
    return session.scalars(
        select(NotificationRecord).where(NotificationRecord.idempotency_key == key)
    ).first()


@bp.post("/notifications")
def notify() -> tuple[Response, int]:
    key, body = idempotency_key(), body_as(NotifyBody)

    def build(_session: Session) -> NotificationRecord:
        return NotificationRecord(
            order_id=body.order_id, idempotency_key=key, template=body.template,
            recipient=body.recipient, correlation_id=request_correlation(),
        )  # fmt: skip

    return create_once(lambda session: _by_key(session, key), build, _answer)


@bp.post("/notifications/verify")
def notify_verify() -> tuple[Response, int]:
    idempotency_key()
    body = body_as(NotifyBody)
    return jsonify(
        {"template": body.template, "recipient": body.recipient, "status": "would_record"}
    ), 200


def create_app(config: Mapping[str, Any] | None = None, **kwargs: Any) -> Flask:
    """The email service app."""
    return create_service_app("email", bp, config, **kwargs)
