"""The helpdesk's two downstream services, each a small Flask app of its own.

* the **notifier** — ``POST /notifications`` ``{ticket_id, template, recipient, subject}``
  sends an e-mail once per ``Idempotency-Key`` (here: a ``notifications_sent`` row);
  ``POST /notifications/verify`` answers what it would send and sends nothing;
* the **search index** — ``POST /documents`` ``{ticket_id, title, body, status, assignee,
  version}`` indexes a ticket (an older version never replaces a newer one);
  ``POST /documents/verify`` answers the document it would hold.

Both answer ``GET /health``. ``HELPDESK_FAULT_ERROR_RATE`` makes a service answer 500 to
that share of its effect calls, before doing anything (rehearsal faults).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from examples.helpdesk.config import load_config
from examples.helpdesk.errors import ConfigError
from examples.helpdesk.models import NotificationSent, SearchDocument, now
from examples.helpdesk.schema import make_engine

SESSIONS = "helpdesk.sessions"
IDEMPOTENCY_HEADER = "Idempotency-Key"


class NoticeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ticket_id: str = Field(min_length=1, max_length=36)
    template: str = Field(min_length=1, max_length=60)
    recipient: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=320)
    subject: str = Field(min_length=1, max_length=300)


class DocumentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ticket_id: str = Field(min_length=1, max_length=36)
    title: str = Field(min_length=1, max_length=200)
    body: str
    status: str = Field(min_length=1, max_length=20)
    assignee: str | None = Field(default=None, max_length=320)
    version: int = Field(ge=1)


def _sessions() -> sessionmaker[Session]:
    factory: sessionmaker[Session] = current_app.extensions[SESSIONS]
    return factory


def _error(status: int, error: str) -> tuple[Response, int]:
    return jsonify({"error": error}), status


def _parsed(model: type[BaseModel]) -> Any:
    try:
        return model.model_validate(request.get_json(silent=True))
    except ValidationError as exc:
        return exc


notifier = Blueprint("notifier", __name__)


@notifier.post("/notifications")
def send() -> tuple[Response, int]:
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    body = _parsed(NoticeBody)
    if not key or isinstance(body, ValidationError):
        return _error(422, "a notice body and an Idempotency-Key header are required")
    row = NotificationSent(
        ticket_id=body.ticket_id, template=body.template, recipient=body.recipient,
        subject=body.subject, idempotency_key=key,
        correlation_id=request.headers.get("X-Correlation-ID"),
    )  # fmt: skip
    try:
        with _sessions()() as session, session.begin():
            session.add(row)
        return jsonify({**body.model_dump(), "status": "sent"}), 201
    except IntegrityError:  # the same key again: sent once already
        return jsonify({**body.model_dump(), "status": "sent"}), 200


@notifier.post("/notifications/verify")
def send_verify() -> tuple[Response, int]:
    body = _parsed(NoticeBody)
    if isinstance(body, ValidationError):
        return _error(422, "a notice body is required")
    return jsonify(
        {"template": body.template, "recipient": body.recipient, "status": "would_send"}
    ), 200


search = Blueprint("search", __name__)


@search.post("/documents")
def index() -> tuple[Response, int]:
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    body = _parsed(DocumentBody)
    if not key or isinstance(body, ValidationError):
        return _error(422, "a document body and an Idempotency-Key header are required")
    with _sessions()() as session, session.begin():
        held = session.scalars(
            select(SearchDocument)
            .where(SearchDocument.ticket_id == body.ticket_id)
            .with_for_update()
        ).first()
        if held is None:
            session.add(SearchDocument(**body.model_dump(), indexed_at=now()))
        elif held.version < body.version:
            for name, value in body.model_dump().items():
                setattr(held, name, value)
            held.indexed_at = now()
    return jsonify({"ticket_id": body.ticket_id, "status": "indexed"}), 200


@search.post("/documents/verify")
def index_verify() -> tuple[Response, int]:
    body = _parsed(DocumentBody)
    if isinstance(body, ValidationError):
        return _error(422, "a document body is required")
    return jsonify({**body.model_dump(), "dry_run": True}), 200


def _health(service: str) -> Callable[[], tuple[Response, int]]:
    def health() -> tuple[Response, int]:
        try:
            with _sessions()() as session:
                session.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            return jsonify(
                {"service": service, "status": "down", "database": type(exc).__name__}
            ), 503
        return jsonify({"service": service, "status": "ok"}), 200

    return health


def _service(
    service: str,
    blueprint: Blueprint,
    config: Mapping[str, Any] | None,
    environ: Mapping[str, str] | None,
    rng: Callable[[], float],
) -> Flask:
    cfg = load_config(config, environ)
    if not cfg.database_url:
        raise ConfigError("DATABASE_URL", f"the {service} service needs a database")
    app = Flask(f"examples.helpdesk.{service}")
    app.extensions[SESSIONS] = sessionmaker(make_engine(cfg.database_url), expire_on_commit=False)

    def fault() -> tuple[Response, int] | None:
        effect = request.method == "POST" and not request.path.endswith("/verify")
        if effect and cfg.fault_error_rate > 0 and rng() < cfg.fault_error_rate:
            return _error(500, "injected fault")
        return None

    app.before_request(fault)
    app.register_blueprint(blueprint)
    app.add_url_rule("/health", "health", _health(service))
    return app


def create_notifier_app(
    config: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    rng: Callable[[], float] = random.random,
) -> Flask:
    """The notifier service."""
    return _service("notifier", notifier, config, environ, rng)


def create_search_app(
    config: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    rng: Callable[[], float] = random.random,
) -> Flask:
    """The search index service."""
    return _service("search", search, config, environ, rng)
