"""What every downstream service shares: app set-up, idempotency keys, rehearsal faults.

Faults (per service, from ``CUTOVER_FAULT_<SERVICE>_*``): with probability
``error_rate`` a request is answered 500 before anything is done; with
probability ``delay_rate`` it sleeps ``delay_seconds`` before doing the work
(``delay_phase=before``) or after committing it (``after``: the caller times
out although the effect happened — the case idempotency keys are for).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import structlog
from flask import Blueprint, Flask, Response, current_app, jsonify, request
from pydantic import BaseModel, ValidationError
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from legacy_app.config import AppConfig, FaultSettings, load_config
from legacy_app.errors import ConfigError, InvalidRequest
from legacy_app.schema import make_engine
from legacy_app.validation import reasons
from legacy_app.web import error_response, install, json_body

log = structlog.get_logger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
SESSIONS = "legacy_app.sessions"
M = TypeVar("M", bound=BaseModel)


def sessions() -> sessionmaker[Session]:
    """The current service's session factory."""
    factory: sessionmaker[Session] = current_app.extensions[SESSIONS]
    return factory


def idempotency_key() -> str:
    """The request's idempotency key (required on every effect call)."""
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if not key or len(key) > 200:
        raise InvalidRequest(
            400,
            [
                {
                    "loc": ["header", IDEMPOTENCY_HEADER],
                    "msg": "required, at most 200 characters",
                    "type": "missing",
                }
            ],
        )
    return key


def body_as(model: type[M]) -> M:
    """The JSON body validated as ``model`` (422 with reasons otherwise)."""
    try:
        return model.model_validate(json_body())
    except ValidationError as exc:
        raise InvalidRequest(422, reasons(exc)) from exc


def request_correlation() -> str | None:
    return request.headers.get("X-Correlation-ID")


class _Faults:
    def __init__(
        self, settings: FaultSettings, rng: Callable[[], float], sleep: Callable[[float], None]
    ) -> None:
        self.settings = settings
        self.rng = rng
        self.sleep = sleep

    def before(self) -> Response | None:
        if request.method != "POST":
            return None
        s = self.settings
        if s.error_rate > 0 and self.rng() < s.error_rate:
            log.warning("fault_error_injected", path=request.path)
            return error_response(500, "injected fault")
        if s.delay_phase == "before" and s.delay_rate > 0 and self.rng() < s.delay_rate:
            log.warning("fault_delay_injected", path=request.path, seconds=s.delay_seconds)
            self.sleep(s.delay_seconds)
        return None

    def after(self, resp: Response) -> Response:
        s = self.settings
        after = request.method == "POST" and s.delay_phase == "after" and s.delay_rate > 0
        if after and self.rng() < s.delay_rate:
            log.warning(
                "fault_delay_injected",
                path=request.path,
                seconds=s.delay_seconds,
                phase="after",
            )
            self.sleep(s.delay_seconds)
        return resp


def _health_blueprint(service: str) -> Blueprint:
    bp = Blueprint(f"{service}_health", __name__)

    @bp.get("/health")
    def health() -> tuple[Response, int]:
        try:
            with sessions()() as session:
                session.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            return jsonify(
                {"service": service, "status": "down", "database": type(exc).__name__}
            ), 503
        return jsonify({"service": service, "status": "ok"}), 200

    return bp


def create_service_app(
    service: str,
    blueprint: Blueprint,
    config: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    rng: Callable[[], float] = random.random,
    sleep: Callable[[float], None] = time.sleep,
) -> Flask:
    """A downstream service app: its blueprint, health, JSON errors, faults."""
    cfg: AppConfig = load_config(config, environ)
    if not cfg.database_url:
        raise ConfigError("DATABASE_URL", f"the {service} service needs a database")
    app = Flask(f"legacy_app.{service}")
    app.config["APP_CONFIG"] = cfg
    install(app, service=service, max_body_bytes=cfg.max_body_bytes)
    engine = make_engine(cfg.database_url, pool_size=cfg.db_pool_size)
    app.extensions[SESSIONS] = sessionmaker(engine, expire_on_commit=False)
    faults = _Faults(cfg.fault(service), rng, sleep)
    app.before_request(faults.before)
    app.after_request(faults.after)
    app.register_blueprint(blueprint)
    app.register_blueprint(_health_blueprint(service))
    return app


R = TypeVar("R")


def create_once(
    find: Callable[[Session], R | None],
    build: Callable[[Session], R],
    answer: Callable[[R], dict[str, Any]],
    *,
    on_repeat: Callable[[R], None] | None = None,
) -> tuple[Response, int]:
    """Apply a side effect once per idempotency key.

    ``find`` looks the key up; a repeat answers 200 with the stored record (after
    ``on_repeat``, in the same transaction). Otherwise ``build`` makes the record, which is
    stored and answered with 201. When a concurrent retry with the same key wins the insert
    race (unique violation), the winner's record is answered with 200.
    """
    try:
        with sessions()() as session, session.begin():
            existing = find(session)
            if existing is not None:
                if on_repeat is not None:
                    on_repeat(existing)
                return jsonify(answer(existing)), 200
            record = build(session)
            session.add(record)
            session.flush()
            body = answer(record)
    except IntegrityError:
        with sessions()() as session:
            again = find(session)
            if again is None:
                raise
            return jsonify(answer(again)), 200
    return jsonify(body), 201
