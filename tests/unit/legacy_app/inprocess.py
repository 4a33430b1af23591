"""The HTTP adapters wired to the services' Flask test clients (no sockets), on SQLite."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask.testing import FlaskClient

from legacy_app.config import load_config
from legacy_app.downstream import Downstreams, http_downstreams
from legacy_app.services import email, inventory, payment, shipping

SERVICES = {"inventory": inventory, "payment": payment, "shipping": shipping, "email": email}


class _Resp:
    def __init__(self, status: int, body: Any) -> None:
        self.status_code, self._body = status, body

    def json(self) -> Any:
        return self._body


class InProcessSession:
    """Stands in for ``requests.Session``: routes each URL to a service's test client."""

    def __init__(self, clients: dict[str, FlaskClient]) -> None:
        self.clients = clients

    def post(self, url: str, *, json: Any, headers: dict[str, str], timeout: Any) -> _Resp:
        parts = urlsplit(url)
        resp = self.clients[parts.netloc].post(parts.path, json=json, headers=headers)
        return _Resp(resp.status_code, resp.get_json())


def config_for(db_url: str) -> dict[str, str]:
    return {"DATABASE_URL": db_url, **{f"{n.upper()}_URL": f"http://{n}.test" for n in SERVICES}}


def inprocess_downstreams(db_url: str, service_config: dict[str, str] | None = None) -> Downstreams:
    """Real HTTP adapters whose requests reach the real service code in-process
    (``service_config``: more configuration of every service, e.g. its faults)."""
    config = {"DATABASE_URL": db_url, **(service_config or {})}
    clients = {
        f"{name}.test": mod.create_app(config, environ={}).test_client()
        for name, mod in SERVICES.items()
    }
    ports = http_downstreams(load_config(config_for(db_url), {}))
    for port in (ports.inventory, ports.payment, ports.shipping, ports.email):
        port._http._local.session = InProcessSession(clients)  # type: ignore[attr-defined]
    return ports
