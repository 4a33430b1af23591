"""Flask extensions: each request's correlation id, JSON bodies of a sane depth, and
idempotent command endpoints.

::

    import cutover.flask
    cutover.flask.init_app(app)                         # header X-Correlation-ID
    cutover.flask.limit_json(app, max_depth=64)         # deeper JSON bodies: 400
    cutover.flask.init_idempotency(app, cutover.Idempotency(cutover.SqlIdempotencyStore(engine)))

    @app.post("/orders")
    @cutover.flask.idempotent(scope="orders")           # header Idempotency-Key
    def create_order(): ...

The correlation id comes from the incoming header (a new one when the header is absent, empty
or unusable), is current for the whole request (:func:`cutover.current_correlation_id`,
stamped by :func:`cutover.emit`) and is echoed on the response under the same header.

:func:`idempotent` applies :class:`cutover.Idempotency` to a view: the first request with a
key runs it, repeats get its response (``Idempotent-Replayed: true``); see ``docs/app-sdk.md``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, TypeVar, cast

import structlog
from flask import Flask, Response, current_app, g, jsonify, make_response, request

from cutover.correlation import _current, new_correlation_id
from cutover.errors import IdempotencyStoreError, InvalidIdempotencyOptions, JsonTooDeep
from cutover.idempotency import (
    Idempotency,
    Mismatch,
    Proceed,
    Replay,
    StoredResponse,
    request_fingerprint,
)
from cutover.json_limits import DEFAULT_MAX_DEPTH, json_depth

log = structlog.get_logger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_HEADER = "X-Correlation-ID"
_USABLE = re.compile(r"^[A-Za-z0-9._:\-]{1,255}$")
_G_KEY = "_cutover_correlation"


def init_app(app: Flask, header: str = DEFAULT_HEADER, *, echo: bool = True) -> None:
    """Read the correlation id from ``header`` on every request of ``app``.

    A value that is not 1-255 characters of letters, digits, ``.``, ``_``, ``:`` or
    ``-`` is replaced by a new id (an outbox column holds at most 255 characters, and a
    header is no place for arbitrary text). ``echo`` sets the header on the response.
    """

    def begin() -> None:
        incoming = request.headers.get(header, "").strip()
        value = incoming if _USABLE.match(incoming) else new_correlation_id()
        setattr(g, _G_KEY, (_current.set(value), value))

    def answer(response: Response) -> Response:
        held = getattr(g, _G_KEY, None)
        if echo and held is not None:
            response.headers[header] = held[1]
        return response

    def end(_exc: BaseException | None = None) -> None:
        held: Any = g.pop(_G_KEY, None)
        if held is not None:
            try:
                _current.reset(held[0])
            except ValueError:  # torn down in another context (e.g. a copied one)
                _current.set(None)

    app.before_request(begin)
    app.after_request(answer)
    app.teardown_request(end)
    app.extensions["cutover.correlation"] = header


IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_IDEMPOTENCY_EXTENSION = "cutover.idempotency"
_USABLE_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def _is_json() -> bool:
    return request.mimetype == "application/json" or request.mimetype.endswith("+json")


def _error(status: int, message: str, **headers: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    response.headers.update(headers)
    return response


def limit_json(
    app: Flask, *, max_depth: int = DEFAULT_MAX_DEPTH, max_bytes: int | None = None
) -> None:
    """Refuse, before any view parses it, a JSON request body (``application/json`` or
    ``+json``) nested deeper than ``max_depth`` levels (400) or longer than ``max_bytes`` (413),
    each with a one-line JSON error. The depth is measured on the raw bytes, not by a parser."""

    def check() -> Response | None:
        if not _is_json():
            return None
        if max_bytes is not None and (request.content_length or 0) > max_bytes:
            return _error(413, f"request body longer than {max_bytes} bytes")
        raw = request.get_data(cache=True)
        if max_bytes is not None and len(raw) > max_bytes:
            return _error(413, f"request body longer than {max_bytes} bytes")
        if json_depth(raw, stop_above=max_depth) > max_depth:
            return _error(400, str(JsonTooDeep(max_depth)))
        return None

    app.before_request(check)
    app.extensions["cutover.json_limits"] = (max_depth, max_bytes)


def init_idempotency(app: Flask, idempotency: Idempotency) -> None:
    """Make ``idempotency`` the one :func:`idempotent` views of ``app`` use."""
    app.extensions[_IDEMPOTENCY_EXTENSION] = idempotency


def idempotent(
    scope: str, *, header: str = IDEMPOTENCY_HEADER, required: bool = False
) -> Callable[[F], F]:
    """Make a view idempotent per ``header`` (see :class:`cutover.Idempotency`): in ``scope``,
    the first request with a key runs the view; a repeat with the same method, path and body
    gets the first response (status, stored headers, body bytes; ``Idempotent-Replayed:
    true``), waiting while the first runs (409 with ``Retry-After`` past the wait); a repeat
    with another request is 422. A response of 500 or more, or an exception, releases the key.

    Without the header the view runs as it is (``required``: 400). A key must be 1-255
    printable ASCII characters (400). The idempotency store failing answers 503.
    """

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def run(*args: Any, **kwargs: Any) -> Any:
            key = request.headers.get(header)
            if key is None:
                return (
                    _error(400, f"{header} header required") if required else view(*args, **kwargs)
                )
            if not _USABLE_KEY.match(key):
                return _error(400, f"{header} must be 1-255 printable ASCII characters")
            try:
                return _guarded(scope, key, lambda: view(*args, **kwargs))
            except JsonTooDeep as exc:
                return _error(400, str(exc))
            except IdempotencyStoreError as exc:
                log.error("idempotency.store_unavailable", scope=scope, error=exc.reason)
                return _error(503, "idempotency store unavailable", **{"Retry-After": "1"})

        return cast(F, run)

    return decorate


def _guarded(scope: str, key: str, view: Callable[[], Any]) -> Response:
    guard = _idempotency()
    body = request.get_data(cache=True)
    fp = request_fingerprint(
        request.method, request.full_path.rstrip("?"), body,
        json_body=_is_json(), max_depth=guard.options.max_json_depth,
    )  # fmt: skip
    decision = guard.begin(scope, key, fp)
    if isinstance(decision, Replay):
        return _replayed(decision.response)
    if isinstance(decision, Mismatch):
        return _error(422, f"{IDEMPOTENCY_HEADER} reused with a different request")
    if not isinstance(decision, Proceed):
        retry = str(decision.retry_after)
        return _error(
            409,
            f"a request with this {IDEMPOTENCY_HEADER} is in progress",
            **{"Retry-After": retry},
        )
    try:
        response = make_response(view())
    except BaseException:
        _abandon(guard, scope, key, decision.token)
        raise
    _finish(guard, scope, key, decision.token, response)
    return response


def _abandon(guard: Idempotency, scope: str, key: str, token: str) -> None:
    """Release the key of a view that raised; the view's exception, not the store's, goes on."""
    try:
        guard.abandon(scope, key, token)
    except IdempotencyStoreError as exc:  # the key's lease runs out
        log.error("idempotency.not_released", scope=scope, error=exc.reason)


def _finish(guard: Idempotency, scope: str, key: str, token: str, response: Response) -> None:
    if response.is_streamed:  # nothing to store: a repeat runs the view again
        _abandon(guard, scope, key, token)
        return
    kept = tuple(
        (name, response.headers[name])
        for name in guard.options.stored_headers
        if name in response.headers
    )
    stored = StoredResponse(response.status_code, kept, response.get_data())
    try:
        held = guard.finish(scope, key, token, stored)
    except IdempotencyStoreError as exc:  # the work is done: answer it; the key's lease runs out
        log.error("idempotency.not_stored", scope=scope, status=stored.status, error=exc.reason)
        return
    if not held:
        log.warning("idempotency.lease_lost", scope=scope, status=stored.status)


def _replayed(stored: StoredResponse) -> Response:
    response = Response(stored.body, status=stored.status)
    for name, value in stored.headers:
        response.headers[name] = value
    response.headers[REPLAYED_HEADER] = "true"
    return response


def _idempotency() -> Idempotency:
    found = current_app.extensions.get(_IDEMPOTENCY_EXTENSION)
    if not isinstance(found, Idempotency):
        raise InvalidIdempotencyOptions(
            "cutover.flask.idempotent needs cutover.flask.init_idempotency(app, ...) first"
        )
    return found
