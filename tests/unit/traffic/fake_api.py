"""A tiny in-process fake of the legacy order API, served on 127.0.0.1 for runner tests."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.serving import make_server

SKUS = {f"SKU-{n:04d}" for n in range(1, 51)}
OOS = {"SKU-OOS-1", "SKU-OOS-2", "SKU-OOS-3"}


def create_fake_app(*, fail_orders: bool = False) -> Flask:
    app = Flask("fake_legacy")
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    ids = itertools.count(1)
    customers: dict[str, str] = {}
    orders: dict[str, dict[str, Any]] = {}
    seen: list[str] = []
    app.config["SEEN_CORRELATION_IDS"] = seen

    def body() -> Any:
        seen.append(request.headers.get("X-Correlation-ID", ""))
        return request.get_json(silent=True)

    @app.get("/health")
    def health() -> Any:
        return {"status": "ok"}

    @app.post("/customers")
    def create_customer() -> Any:
        data = body()
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            return {"error": "invalid"}, 422
        if not isinstance(data.get("email"), str):
            return {"error": "invalid"}, 422
        if data["email"] in customers.values():
            return {"error": "exists"}, 409
        cid = str(next(ids))
        customers[cid] = data["email"]
        return jsonify({"id": cid, **data}), 201

    @app.post("/orders")
    def create_order() -> Any:
        data = body()
        if data is None:
            return {"error": "invalid json"}, 400
        if fail_orders:
            return {"error": "boom"}, 500
        items = data.get("items") if isinstance(data, dict) else None
        if data.get("customer_id") not in customers or not isinstance(items, list) or not items:
            return {"error": "invalid"}, 422
        if data.get("payment_method", "card") not in ("card", "card_declined"):
            return {"error": "invalid"}, 422
        for line in items:
            qty = line.get("qty") if isinstance(line, dict) else None
            if not isinstance(qty, int) or isinstance(qty, bool) or qty < 1:
                return {"error": "invalid"}, 422
            if line.get("sku") not in SKUS | OOS:
                return {"error": "unknown sku"}, 422
        failed = (
            any(x["sku"] in OOS for x in items) or data.get("payment_method") == "card_declined"
        )
        oid = f"o-{next(ids)}"
        orders[oid] = {"id": oid, "status": "failed" if failed else "completed"}
        return jsonify(orders[oid]), 201

    @app.get("/orders/<oid>")
    def get_order(oid: str) -> Any:
        return (orders[oid], 200) if oid in orders else ({"error": "not found"}, 404)

    return app


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
