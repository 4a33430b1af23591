"""Flask plumbing shared by the order service and the downstream services.

Correlation ids (``X-Correlation-ID`` or a new one) bound to the request and
the logs, JSON bodies read strictly (content type, size, nesting depth, JSON), and JSON
answers for every error — a malformed request gets a 4xx with its reasons,
never a 500.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import structlog
from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

import cutover
import cutover.flask
from legacy_app.errors import InvalidRequest

log = structlog.get_logger(__name__)

CORRELATION_HEADER = "X-Correlation-ID"
MAX_JSON_DEPTH = 32
"""Nesting a request body may have (the deepest body of these services has 3 levels)."""
_CORRELATION_OK = re.compile(r"^[A-Za-z0-9._:\-]{1,255}$")


def correlation_id() -> str:
    """The current request's correlation id."""
    return str(g.correlation_id)


def _bind_correlation() -> None:
    given = request.headers.get(CORRELATION_HEADER, "")
    g.correlation_id = given if _CORRELATION_OK.match(given) else str(uuid.uuid4())
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(correlation_id=g.correlation_id)


def _echo_correlation(resp: Response) -> Response:
    if "correlation_id" in g:
        resp.headers[CORRELATION_HEADER] = g.correlation_id
    return resp


def error_response(
    status: int, error: str, details: list[dict[str, Any]] | None = None
) -> Response:
    body: dict[str, Any] = {"error": error}
    if details:
        body["details"] = details
    resp = jsonify(body)
    resp.status_code = status
    return resp


def json_body() -> Any:
    """The request's JSON body; :class:`InvalidRequest` (415/400/413) when it is not usable."""
    if request.mimetype != "application/json":
        raise InvalidRequest(
            415,
            [
                {
                    "loc": ["header", "Content-Type"],
                    "msg": "expected application/json",
                    "type": "content_type",
                }
            ],
        )
    raw = request.get_data(cache=True)  # raises 413 beyond MAX_CONTENT_LENGTH
    try:
        return cutover.parse_json(raw, max_depth=MAX_JSON_DEPTH)
    except cutover.JsonTooDeep as exc:
        raise InvalidRequest(
            400, [{"loc": ["body"], "msg": str(exc), "type": "json_depth"}]
        ) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest(
            400, [{"loc": ["body"], "msg": f"invalid JSON: {exc}", "type": "json_invalid"}]
        ) from exc


def _invalid(exc: InvalidRequest) -> Response:
    return error_response(exc.status, "invalid request", exc.errors)


def _http_error(exc: HTTPException) -> Response:
    return error_response(exc.code or 500, exc.name.lower(), [{"msg": exc.description or exc.name}])


def _unexpected(exc: Exception) -> Response:
    log.exception("unhandled_error", error=type(exc).__name__)
    return error_response(500, "internal error")


def install(app: Flask, *, service: str, max_body_bytes: int) -> None:
    """Correlation, size and depth limits and JSON error handlers for ``app``."""
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    app.config["SERVICE_NAME"] = service
    app.before_request(_bind_correlation)
    app.after_request(_echo_correlation)
    cutover.flask.limit_json(app, max_depth=MAX_JSON_DEPTH)
    app.register_error_handler(InvalidRequest, _invalid)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
