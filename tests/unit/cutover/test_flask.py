"""The Flask extension: each request's correlation id is current while it is served."""

from __future__ import annotations

import uuid

from flask import Flask

import cutover
import cutover.flask


def make_app(**kw: object) -> Flask:
    app = Flask(__name__)
    cutover.flask.init_app(app, **kw)  # type: ignore[arg-type]

    @app.get("/")
    def seen() -> dict[str, str | None]:
        return {"correlation_id": cutover.current_correlation_id()}

    return app


def test_the_incoming_header_is_current_and_echoed() -> None:
    response = make_app().test_client().get("/", headers={"X-Correlation-ID": "req-42"})
    assert response.get_json() == {"correlation_id": "req-42"}
    assert response.headers["X-Correlation-ID"] == "req-42"


def test_a_request_without_the_header_gets_a_new_id() -> None:
    response = make_app().test_client().get("/")
    seen = response.get_json()["correlation_id"]
    assert uuid.UUID(seen)
    assert response.headers["X-Correlation-ID"] == seen


def test_an_unusable_header_is_replaced() -> None:
    response = make_app().test_client().get("/", headers={"X-Correlation-ID": "a b\tc"})
    assert response.get_json()["correlation_id"] != "a b\tc"


def test_another_header_name_and_no_echo() -> None:
    response = (
        make_app(header="X-Request-ID", echo=False)
        .test_client()
        .get("/", headers={"X-Request-ID": "r-1"})
    )
    assert response.get_json() == {"correlation_id": "r-1"}
    assert "X-Request-ID" not in response.headers


def test_the_id_is_not_current_after_the_request() -> None:
    make_app().test_client().get("/", headers={"X-Correlation-ID": "gone"})
    assert cutover.current_correlation_id() is None
