"""cutover.flask: idempotent views and the JSON limits, over Flask's test client."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask, jsonify, request
from flask.testing import FlaskClient

import cutover
import cutover.flask
from cutover import Idempotency, IdempotencyOptions, MemoryIdempotencyStore


class FailingStore(MemoryIdempotencyStore):
    def claim(self, claim: Any) -> Any:
        raise cutover.IdempotencyStoreError("OperationalError: connection refused")


def make_app(store: Any = None, **options: Any) -> tuple[Flask, list[dict[str, Any]]]:
    app = Flask(__name__)
    cutover.flask.limit_json(app, max_depth=8, max_bytes=4096)
    opts = IdempotencyOptions(**options)
    cutover.flask.init_idempotency(app, Idempotency(store or MemoryIdempotencyStore(), opts))
    seen: list[dict[str, Any]] = []

    @app.post("/orders")
    @cutover.flask.idempotent(scope="orders")
    def create() -> Any:
        body = request.get_json()
        seen.append(body)
        if body.get("fail") == "raise":
            raise RuntimeError("boom")
        if body.get("fail") == "503":
            return jsonify({"error": "down"}), 503
        response = jsonify({"n": len(seen), **body})
        return response, 201, {"Location": f"/orders/{len(seen)}", "X-Other": "x"}

    @app.post("/strict")
    @cutover.flask.idempotent(scope="strict", required=True)
    def strict() -> Any:
        return {"ok": True}

    return app, seen


@pytest.fixture
def app() -> Iterator[tuple[Flask, list[dict[str, Any]]]]:
    yield make_app()


def post(client: FlaskClient, body: Any, key: str | None = "key-1", path: str = "/orders") -> Any:
    headers = {} if key is None else {"Idempotency-Key": key}
    return client.post(path, json=body, headers=headers)


def test_a_repeat_gets_the_first_response_and_the_view_runs_once(app: Any) -> None:
    flask_app, seen = app
    client = flask_app.test_client()
    first = post(client, {"sku": "A", "qty": 1})
    again = client.post(
        "/orders",
        data='{ "qty": 1, "sku": "A" }',  # the same JSON, written differently
        headers={"Idempotency-Key": "key-1", "Content-Type": "application/json"},
    )
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.get_data() == first.get_data()
    assert again.headers["Location"] == first.headers["Location"] == "/orders/1"
    assert "X-Other" not in again.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(seen) == 1


def test_the_same_key_with_another_body_is_a_422(app: Any) -> None:
    flask_app, seen = app
    client = flask_app.test_client()
    post(client, {"sku": "A"})
    other = post(client, {"sku": "B"})
    assert other.status_code == 422
    assert other.get_json() == {"error": "Idempotency-Key reused with a different request"}
    assert len(seen) == 1


def test_without_a_key_every_request_runs(app: Any) -> None:
    flask_app, seen = app
    client = flask_app.test_client()
    assert [post(client, {"a": 1}, key=None).status_code for _ in range(2)] == [201, 201]
    assert len(seen) == 2


def test_a_required_key_that_is_missing_is_a_400(app: Any) -> None:
    resp = post(app[0].test_client(), {}, key=None, path="/strict")
    assert (resp.status_code, resp.get_json()) == (
        400,
        {"error": "Idempotency-Key header required"},
    )


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "é"])
def test_an_unusable_key_is_a_400(app: Any, key: str) -> None:
    headers = {"Idempotency-Key": key}
    resp = app[0].test_client().post("/orders", json={}, headers=headers)
    assert resp.status_code == 400
    assert "printable ASCII" in resp.get_json()["error"]


@pytest.mark.parametrize("fail", ["raise", "503"])
def test_a_failed_first_request_releases_the_key(app: Any, fail: str) -> None:
    flask_app, seen = app
    flask_app.config["PROPAGATE_EXCEPTIONS"] = False
    client = flask_app.test_client()
    assert post(client, {"fail": fail}).status_code in (500, 503)
    assert post(client, {"fail": fail}).status_code in (500, 503)
    assert len(seen) == 2  # the repeat did the work again


def test_concurrent_repeats_run_the_view_once_and_answer_alike(app: Any) -> None:
    flask_app, seen = app

    def one(_: int) -> tuple[int, bytes]:
        resp = post(flask_app.test_client(), {"sku": "A", "qty": 2}, key="same")
        return resp.status_code, resp.get_data()

    with ThreadPoolExecutor(16) as pool:
        answers = set(pool.map(one, range(48)))
    assert len(seen) == 1
    assert len(answers) == 1 and next(iter(answers))[0] == 201


def test_a_repeat_while_the_first_runs_past_the_wait_is_a_409() -> None:
    flask_app, seen = make_app(wait=timedelta(milliseconds=50))
    guard: Idempotency = flask_app.extensions["cutover.idempotency"]
    fp = cutover.request_fingerprint("POST", "/orders", b'{"sku":"A"}', json_body=True)
    assert isinstance(guard.begin("orders", "k", fp), cutover.Proceed)  # the first, running
    resp = post(flask_app.test_client(), {"sku": "A"}, key="k")
    assert resp.status_code == 409
    assert resp.headers["Retry-After"] == "1"
    assert seen == []


def test_an_unavailable_store_is_a_503() -> None:
    flask_app, seen = make_app(FailingStore())
    resp = post(flask_app.test_client(), {"sku": "A"})
    assert (resp.status_code, resp.get_json()) == (503, {"error": "idempotency store unavailable"})
    assert seen == []


def test_a_json_body_nested_too_deep_is_a_400_before_the_view(app: Any) -> None:
    flask_app, seen = app
    deep = "[" * 1000 + "]" * 1000
    resp = flask_app.test_client().post(
        "/orders", data=deep, headers={"Content-Type": "application/json"}
    )
    assert (resp.status_code, resp.get_json()) == (
        400,
        {"error": "JSON body nested deeper than 8 levels"},
    )
    assert seen == []


def test_a_json_body_too_long_is_a_413(app: Any) -> None:
    resp = post(app[0].test_client(), {"pad": "x" * 5000})
    assert (resp.status_code, resp.get_json()) == (
        413,
        {"error": "request body longer than 4096 bytes"},
    )


def test_the_decorator_refuses_a_deep_body_without_limit_json() -> None:
    app = Flask(__name__)
    cutover.flask.init_idempotency(app, Idempotency(MemoryIdempotencyStore()))

    @app.post("/x")
    @cutover.flask.idempotent(scope="x")
    def view() -> Any:
        return {"ok": True}

    resp = app.test_client().post(
        "/x",
        data="{" * 100,
        headers={"Content-Type": "application/json", "Idempotency-Key": "k"},
    )
    assert (resp.status_code, resp.get_json()) == (
        400,
        {"error": "JSON body nested deeper than 64 levels"},
    )


def test_an_idempotent_view_without_init_idempotency_says_what_is_missing() -> None:
    app = Flask(__name__)
    app.testing = True  # the exception reaches the test

    @app.post("/x")
    @cutover.flask.idempotent(scope="x")
    def view() -> Any:
        return {"ok": True}

    with pytest.raises(cutover.InvalidIdempotencyOptions, match="init_idempotency"):
        app.test_client().post("/x", json={}, headers={"Idempotency-Key": "k"})
