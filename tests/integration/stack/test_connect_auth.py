"""Basic auth on Kafka Connect's REST API (``cutover stack up --connect-auth``): a real worker
started the way the local stack starts it with auth on, next to the stack's own one (its own
group, storage topics, port and state directory; no plugins, so it starts in seconds)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest
import requests
from confluent_kafka.admin import AdminClient

from cdc.client import ConnectClient
from cdc.errors import ConnectAuthError
from cdc.transport import BasicAuth
from cutover_common.secrets import Secret
from rehearsal.stack import connect_auth
from rehearsal.stack.endpoints import Endpoints, load_endpoints, password_file
from rehearsal.stack.jars import JarLayout, layout
from rehearsal.stack.kafka import launch_connect
from rehearsal.stack.process import wait_until
from rehearsal.stack.topology import Topology

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def auth_worker(
    endpoints: Endpoints, topology: Topology, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Topology]:
    """A worker with basic auth on; yields its topology (its state directory holds the
    credentials). Its storage topics are deleted afterwards."""
    unique = uuid.uuid4().hex[:10]
    tmp_path = tmp_path_factory.mktemp("connect-auth")
    connect = replace(
        topology.connect,
        port=_free_port(),
        group_id=f"auth-it-{unique}",
        storage_prefix=f"_auth_it_{unique}",
        heap="256m",
    )
    topo = replace(topology, state_dir=tmp_path, connect=connect)
    password_file(topo).parent.mkdir(parents=True)
    password_file(topo).write_text("not-the-database-password\n")
    connect_auth.enable(topo)
    (tmp_path / "plugins").mkdir()
    jars = JarLayout(layout(topology).kafka_lib, tmp_path / "plugins")
    # Kafka's own plugins have service manifests: skip the slow reflective classpath scan;
    # this worker runs no source connector, so no exactly-once set-up at its start
    fast = {"plugin.discovery": "service_load", "exactly.once.source.support": "disabled"}
    proc = launch_connect(topo, jars, fast)
    try:
        wait_until(
            "connect (auth)",
            lambda: _status(topo.connect_url) == 401,
            timeout=120,
            log_file=proc.log_file,
            exited=proc.exit_code,
        )
        yield topo
    finally:
        proc.stop()
        settings = connect.worker_settings()
        topics = [settings[f"{k}.storage.topic"] for k in ("config", "offset", "status")]
        AdminClient({"bootstrap.servers": endpoints.bootstrap_servers}).delete_topics(topics)


def _status(url: str) -> int | None:
    try:
        return requests.get(f"{url}/connectors", timeout=2).status_code
    except requests.RequestException:
        return None


def test_the_rest_api_refuses_a_request_without_credentials(auth_worker: Topology) -> None:
    response = requests.get(f"{auth_worker.connect_url}/connectors", timeout=5)
    assert response.status_code == 401


def test_the_client_with_the_stacks_credentials_is_let_in(auth_worker: Topology) -> None:
    endpoints = load_endpoints(auth_worker)
    assert endpoints.connect_auth is not None
    client = endpoints.connect_client()
    assert client.list_connectors() == []
    assert client.worker_version


def test_refused_credentials_never_appear_in_the_error(auth_worker: Topology) -> None:
    good = connect_auth.credentials(auth_worker)
    assert good is not None
    wrong = BasicAuth(good.username, Secret("wrong-" + good.password.reveal()))
    client = ConnectClient.from_url(auth_worker.connect_url, auth=wrong)
    with pytest.raises(ConnectAuthError) as caught:
        client.list_connectors()
    text = f"{caught.value} {caught.value!r} {client!r}"
    assert good.password.reveal() not in text
    assert wrong.password.reveal() not in text
    assert "401" in str(caught.value)
