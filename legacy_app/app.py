"""The order service: ``POST /customers``, ``POST /orders``, ``GET /orders/<id>``, ``GET /health``.

``POST /orders`` is idempotent per ``Idempotency-Key`` (``cutover.flask.idempotent``, keys in
cutover's ``idempotency_keys`` table): a repeat gets the first answer and places no second
order. The first answer is stored after the flow's last transaction, not in it: the flow
commits the order, calls the downstream services over HTTP, then commits how it ended, so
no one transaction holds the business rows and the answer.

``create_app(config=None)`` builds it from :func:`legacy_app.config.load_config`;
tests may hand in fakes for the downstream ports, the mode source and the
publisher. The blueprint is thin: rules live in :mod:`legacy_app.placing`
and :mod:`legacy_app.flow`.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Mapping
from typing import Any

import structlog
from flask import Blueprint, Flask, Response, current_app, jsonify
from pydantic import ValidationError
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import sessionmaker

import cutover
import cutover.flask
from legacy_app.config import AppConfig, load_config
from legacy_app.downstream import Downstreams, http_downstreams
from legacy_app.errors import ConfigError, InvalidRequest, OrderNotStored
from legacy_app.models import Customer
from legacy_app.modes import ModeSource, mode_switch
from legacy_app.outbox import KafkaPublisher, Publisher, crash_hook, topic_for
from legacy_app.placing import OrderDeps, order_view, place_order
from legacy_app.schema import make_engine
from legacy_app.validation import CustomerRequest, OrderRequest, reasons
from legacy_app.web import correlation_id, error_response, install, json_body

log = structlog.get_logger(__name__)
bp = Blueprint("orders", __name__)
EXTENSION = "legacy_app"


def _deps() -> OrderDeps:
    deps: OrderDeps = current_app.extensions[EXTENSION]
    return deps


def _validated(model: type[OrderRequest] | type[CustomerRequest]) -> Any:
    data = json_body()
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest(422, reasons(exc)) from exc


@bp.post("/customers")
def create_customer() -> tuple[Response, int]:
    req: CustomerRequest = _validated(CustomerRequest)
    sessions = _deps().sessions
    try:
        with sessions() as session, session.begin():
            customer = Customer(name=req.name, email=req.email)
            session.add(customer)
            session.flush()
            body = {"id": customer.id, "name": customer.name, "email": customer.email}
    except IntegrityError:
        with sessions() as session:
            existing = session.scalars(select(Customer).where(Customer.email == req.email)).first()
        if existing is None:
            raise
        return error_response(
            409, "customer exists", [{"msg": "email already registered", "id": existing.id}]
        ), 409
    return jsonify(body), 201


@bp.post("/orders")
@cutover.flask.idempotent(scope="orders")
def create_order() -> tuple[Response, int]:
    req: OrderRequest = _validated(OrderRequest)
    try:
        view = place_order(req, correlation_id(), _deps())
    except OrderNotStored as exc:
        return error_response(503, "order not stored", [{"msg": exc.reason}]), 503
    return jsonify(view), 202 if view.get("status") == "accepted" else 201


@bp.get("/orders/<order_id>")
def get_order(order_id: str) -> tuple[Response, int]:
    view = order_view(_deps().sessions, order_id[:36])
    if view is None:
        return error_response(404, "not found", [{"msg": f"no order {order_id[:36]}"}]), 404
    return jsonify(view), 200


@bp.get("/health")
def health() -> tuple[Response, int]:
    try:
        with _deps().sessions() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return jsonify({"service": "order", "status": "down", "database": type(exc).__name__}), 503
    return jsonify({"service": "order", "status": "ok"}), 200


class _LazyPublisher:
    """Creates the Kafka producer on first use (only ``naive-dual`` needs one)."""

    def __init__(self, config: AppConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._publisher: KafkaPublisher | None = None

    def __call__(self) -> Publisher:
        with self._lock:
            if self._publisher is None:
                cfg = self._config
                self._publisher = KafkaPublisher(
                    cfg.kafka_bootstrap_servers,
                    topic_for(cfg.outbox_topic_prefix),
                    before_produce=crash_hook(cfg.fault_crash_before_produce),
                )
                atexit.register(self._publisher.flush)
            return self._publisher


def create_app(
    config: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    downstreams: Downstreams | None = None,
    modes: ModeSource | None = None,
    publisher: Publisher | None = None,
) -> Flask:
    """The order service; ``downstreams``/``modes``/``publisher`` replace real adapters in tests."""
    cfg = load_config(config, environ)
    if not cfg.database_url:
        raise ConfigError("DATABASE_URL", "the order service needs a database")
    engine = make_engine(cfg.database_url, pool_size=cfg.db_pool_size)
    sessions = sessionmaker(engine, expire_on_commit=False)
    app = Flask("legacy_app.order")
    app.config["APP_CONFIG"] = cfg
    install(app, service="order", max_body_bytes=cfg.max_body_bytes)
    app.extensions[EXTENSION] = OrderDeps(
        sessions=sessions,
        downstreams=downstreams or http_downstreams(cfg),
        modes=modes or mode_switch(engine, ttl=cfg.mode_cache_seconds),
        ledger=cutover.SqlLedger(engine),
        publisher=(lambda: publisher) if publisher is not None else _LazyPublisher(cfg),
    )
    cutover.flask.init_idempotency(app, cutover.Idempotency(cutover.SqlIdempotencyStore(engine)))
    app.extensions["legacy_app.engine"] = engine
    app.register_blueprint(bp)
    return app
