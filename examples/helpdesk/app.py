"""The helpdesk service: tickets over HTTP.

``POST /tickets`` ``{title, body, requester}`` opens one (idempotent per ``Idempotency-Key``:
a repeat gets the first answer, no second ticket); ``POST /tickets/<id>/assign``
``{agent_id}`` and ``POST /tickets/<id>/resolve`` ``{resolution}`` change it;
``POST /tickets/<id>/reindex`` sends its document to the search index again;
``GET /tickets/<id>`` shows it with its history; ``GET /health``.

``create_app(config=None)`` builds it from :func:`~examples.helpdesk.config.load_config`;
tests hand in fakes of the two services, the mode source and the ledger. The blueprint is
thin: the writes are :mod:`.tickets`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import structlog
from flask import Blueprint, Flask, Response, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

import cutover
import cutover.flask
from cutover.errors import SyncCallBlocked
from examples.helpdesk.clients import HttpNotifier, HttpSearchIndex, Notifier, SearchIndex
from examples.helpdesk.config import HelpdeskConfig, load_config
from examples.helpdesk.errors import (
    ConfigError,
    DownstreamFailed,
    InvalidRequest,
    TicketNotFound,
    TransitionRefused,
)
from examples.helpdesk.schema import make_engine
from examples.helpdesk.tickets import (
    ContextModes,
    Contexts,
    Deps,
    assign_ticket,
    open_ticket,
    reindex_ticket,
    resolve_ticket,
    ticket_view,
)

log = structlog.get_logger(__name__)
bp = Blueprint("helpdesk", __name__)
EXTENSION = "helpdesk"
M = TypeVar("M", bound=BaseModel)


class OpenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=20_000)
    requester: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=320)


class AssignBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent_id: int = Field(ge=1)


class ResolveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    resolution: str = Field(min_length=1, max_length=5000)


def _deps() -> Deps:
    deps: Deps = current_app.extensions[EXTENSION]
    return deps


def _body(model: type[M]) -> M:
    if not request.is_json:
        raise InvalidRequest(415, [{"msg": "expected application/json"}])
    try:
        return model.model_validate(request.get_json(silent=True))
    except ValidationError as exc:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        raise InvalidRequest(422, errors) from exc


@bp.post("/tickets")
@cutover.flask.idempotent(scope="tickets")
def open_() -> tuple[Response, int]:
    body = _body(OpenBody)
    snap = open_ticket(_deps(), body.title, body.body, body.requester)
    return jsonify(snap.to_dict()), 201


@bp.post("/tickets/<ticket_id>/assign")
def assign(ticket_id: str) -> tuple[Response, int]:
    snap = assign_ticket(_deps(), ticket_id[:36], _body(AssignBody).agent_id)
    return jsonify(snap.to_dict()), 200


@bp.post("/tickets/<ticket_id>/resolve")
def resolve(ticket_id: str) -> tuple[Response, int]:
    snap = resolve_ticket(_deps(), ticket_id[:36], _body(ResolveBody).resolution)
    return jsonify(snap.to_dict()), 200


@bp.post("/tickets/<ticket_id>/reindex")
def reindex(ticket_id: str) -> tuple[Response, int]:
    return jsonify(reindex_ticket(_deps(), ticket_id[:36])), 200


@bp.get("/tickets/<ticket_id>")
def show(ticket_id: str) -> tuple[Response, int]:
    view = ticket_view(_deps().sessions, ticket_id[:36])
    if view is None:
        raise TicketNotFound("ticket", ticket_id[:36])
    return jsonify(view), 200


@bp.get("/health")
def health() -> tuple[Response, int]:
    try:
        with _deps().sessions() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return jsonify(
            {"service": "helpdesk", "status": "down", "database": type(exc).__name__}
        ), 503
    return jsonify({"service": "helpdesk", "status": "ok"}), 200


def _error(status: int, error: str, details: list[dict[str, Any]] | None = None) -> Response:
    resp = jsonify({"error": error, **({"details": details} if details else {})})
    resp.status_code = status
    return resp


def install_errors(app: Flask) -> None:
    """JSON answers for the helpdesk's errors (never a traceback to the client)."""
    app.register_error_handler(
        InvalidRequest, lambda e: _error(e.status, "invalid request", e.errors)
    )
    app.register_error_handler(
        TicketNotFound, lambda e: _error(404, "not found", [{"msg": str(e)}])
    )
    app.register_error_handler(
        TransitionRefused, lambda e: _error(409, "conflict", [{"msg": str(e)}])
    )
    app.register_error_handler(
        DownstreamFailed, lambda e: _error(502, "downstream failed", [{"msg": str(e)}])
    )
    app.register_error_handler(
        SyncCallBlocked, lambda e: _error(409, "sync call removed", [{"msg": str(e)}])
    )


def create_app(
    config: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    notifier: Notifier | None = None,
    search: SearchIndex | None = None,
    modes: ContextModes | None = None,
    ledger: cutover.Ledger | None = None,
) -> Flask:
    """The helpdesk; ``notifier``/``search``/``modes``/``ledger`` replace the real adapters
    (HTTP services, ``cutover.ModeSwitch``, ``cutover.SqlLedger``) in tests."""
    cfg = load_config(config, environ)
    if not cfg.database_url:
        raise ConfigError("DATABASE_URL", "the helpdesk needs a database")
    engine = make_engine(cfg.database_url)
    outbox = cutover.Outbox.from_plan(cfg.plan_path) if cfg.plan_path else cutover.Outbox()
    app = Flask("examples.helpdesk")
    app.config["HELPDESK_CONFIG"] = cfg
    cutover.flask.init_app(app)
    cutover.flask.limit_json(app)
    cutover.flask.init_idempotency(app, cutover.Idempotency(cutover.SqlIdempotencyStore(engine)))
    install_errors(app)
    app.extensions[EXTENSION] = Deps(
        sessions=sessionmaker(engine, expire_on_commit=False),
        notifier=notifier or HttpNotifier(cfg.notifier_url, cfg.http_timeout),
        search=search or HttpSearchIndex(cfg.search_url, cfg.http_timeout),
        contexts=Contexts(
            modes or _mode_switch(engine, cfg),
            ledger or cutover.SqlLedger(engine),
            outbox=outbox,
            verify_timeout=cfg.verify_timeout,
        ),
    )
    app.register_blueprint(bp)
    return app


def _mode_switch(engine: Any, cfg: HelpdeskConfig) -> cutover.ModeSwitch:
    return cutover.ModeSwitch.from_engine(engine, ttl=cfg.mode_cache_seconds).start()
