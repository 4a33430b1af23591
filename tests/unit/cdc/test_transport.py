"""The requests transport against a tiny local HTTP server: basic auth, JSON, error bodies."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cdc.client import ConnectClient
from cdc.errors import ConnectAuthError, ConnectorNotFound
from cdc.transport import BasicAuth, RequestsTransport

USER, PASSWORD = "admin", "srv-pw-7731"
GOOD = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def reply(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != GOOD:
            self.reply(401, {"error_code": 401, "message": "Request requires authentication"})
        elif self.path == "/":
            self.reply(200, {"version": "4.3.0", "commit": "x", "kafka_cluster_id": "k"})
        elif self.path == "/connectors":
            self.reply(200, ["a"])
        else:
            self.reply(404, {"error_code": 404, "message": "No status found for connector zz"})


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_basic_auth_is_sent(server: str) -> None:
    client = ConnectClient(RequestsTransport(server, auth=BasicAuth.parse(f"{USER}:{PASSWORD}")))
    assert client.worker_info().version == "4.3.0"
    assert client.list_connectors() == ["a"]


def test_missing_credentials_are_an_auth_error_without_the_password(server: str) -> None:
    with pytest.raises(ConnectAuthError) as info:
        ConnectClient(RequestsTransport(server)).list_connectors()
    assert info.value.status == 401
    assert info.value.worker_message == "Request requires authentication"
    assert info.value.exit_code == 12


def test_wrong_password_is_refused_and_not_shown(server: str) -> None:
    client = ConnectClient(RequestsTransport(server, auth=BasicAuth.parse("admin:wrong-pw-555")))
    with pytest.raises(ConnectAuthError) as info:
        client.list_connectors()
    assert "wrong-pw-555" not in str(info.value)


def test_error_body_of_a_real_http_response_is_typed(server: str) -> None:
    client = ConnectClient(RequestsTransport(server, auth=BasicAuth.parse(f"{USER}:{PASSWORD}")))
    with pytest.raises(ConnectorNotFound) as info:
        client.status("zz")
    assert info.value.worker_message == "No status found for connector zz"
