"""The client against the fake worker: retries, typed errors, version gating, redaction."""

from __future__ import annotations

import pytest
import requests

from cdc.client import ConnectClient, RetryPolicy, wire_config
from cdc.errors import (
    ConnectAuthError,
    ConnectConflict,
    ConnectServerError,
    ConnectUnreachable,
    UnsupportedByWorker,
    WaitTimeout,
)
from cdc.fake import POSTGRES, FakeConnectWorker
from cdc.transport import BasicAuth, HttpResponse, RequestsTransport, map_requests_exceptions
from cdc.versions import Version, supports
from cutover_common.secrets import Secret
from tests.unit.cdc.test_fake_contract import fake_config


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def make(worker: FakeConnectWorker, clock: Clock | None = None, **kw: object) -> ConnectClient:
    clock = clock or Clock()
    return ConnectClient(worker, sleep=clock.sleep, clock=clock, **kw)  # type: ignore[arg-type]


def test_409_during_a_rebalance_is_retried_with_growing_backoff() -> None:
    worker, clock = FakeConnectWorker(), Clock()
    client = make(worker, clock)
    worker.conflicts = 3
    client.create_connector("a", fake_config("a"))
    assert clock.sleeps == [0.25, 0.5, 1.0]
    assert "a" in worker.connectors


def test_409_that_outlasts_the_retries_is_a_conflict_error() -> None:
    worker = FakeConnectWorker()
    client = make(worker, retry=RetryPolicy(attempts=3))
    worker.conflicts = 5
    with pytest.raises(ConnectConflict) as info:
        client.create_connector("a", fake_config("a"))
    assert info.value.status == 409
    assert "rebalance" in info.value.worker_message
    assert info.value.exit_code == 10


def test_retry_delays_are_capped() -> None:
    assert RetryPolicy(attempts=6, initial_delay_s=1, max_delay_s=3).delays() == [1, 2, 3, 3, 3]


@pytest.mark.parametrize(
    ("call", "feature"),
    [
        (lambda c: c.stop("a"), "stop connector (KIP-875)"),
        (lambda c: c.get_offsets("a"), "get offsets (KIP-875)"),
        (lambda c: c.reset_offsets("a"), "reset offsets (KIP-875)"),
        (
            lambda c: c.create_connector("b", fake_config("b"), initial_state="PAUSED"),
            "create with initial_state (KIP-980)",
        ),
        (lambda c: c.patch_config("a", {"x": "1"}), "patch connector config (KIP-477)"),
        (lambda c: c.health(), "worker health (KIP-1017)"),
    ],
)
def test_calls_an_old_worker_lacks_raise_unsupported_by_worker(call, feature: str) -> None:  # type: ignore[no-untyped-def]
    worker = FakeConnectWorker(version="3.4.1")
    worker.connectors.clear()
    client = make(worker)
    with pytest.raises(UnsupportedByWorker) as info:
        call(client)
    assert info.value.feature == feature
    assert info.value.worker_version == "3.4.1"
    assert info.value.exit_code == 13
    assert worker.requests == [("GET", "/")]  # refused before sending the call


def test_route_missing_on_the_worker_is_unsupported_even_without_a_version_check() -> None:
    worker = FakeConnectWorker(version="2.2.0")
    client = make(worker)
    with pytest.raises(UnsupportedByWorker):
        client.topics("a")
    with pytest.raises(UnsupportedByWorker):
        client.plugin_config("PostgresConnector")


def test_version_parsing_and_comparison() -> None:
    assert Version.parse("3.9.1-SNAPSHOT") == Version(3, 9, 1)
    assert Version.parse("7.6.0-ccs") > Version(3, 5)
    assert supports("stop connector (KIP-875)", "4.3.0")
    assert not supports("stop connector (KIP-875)", "3.4.0")


def test_wait_for_times_out_with_the_last_status() -> None:
    worker = FakeConnectWorker(task_failure=lambda cfg: "java.lang.Boom: bad password")
    clock = Clock()
    client = make(worker, clock)
    client.create_connector("a", fake_config("a"))
    with pytest.raises(WaitTimeout) as info:
        client.wait_for("a", "RUNNING", timeout_s=5, interval_s=1)
    assert info.value.last_seen == "RUNNING (0:FAILED)"
    assert info.value.exit_code == 7
    assert clock.now >= 5


def test_only_failed_restart_reports_the_failed_tasks_restarting() -> None:
    broken = {"yes": True}
    worker = FakeConnectWorker(task_failure=lambda cfg: "boom" if broken["yes"] else None)
    client = make(worker)
    client.create_connector("a", fake_config("a"))
    assert [t.state for t in client.status("a").failed_tasks()] == ["FAILED"]
    broken["yes"] = False
    state = client.restart("a", include_tasks=True, only_failed=True)
    assert state is not None and [t.state for t in state.tasks] == ["RESTARTING"]
    assert client.wait_for("a", "RUNNING").tasks[0].state == "RUNNING"


def test_status_codes_map_to_typed_errors() -> None:
    class Fixed:
        base_url = "fixed://"

        def __init__(self, status: int) -> None:
            self.status = status

        def request(self, method: str, path: str, *, params=(), body=None) -> HttpResponse:  # type: ignore[no-untyped-def]
            return HttpResponse(self.status, {"error_code": self.status, "message": "nope"}, "")

    with pytest.raises(ConnectAuthError):
        ConnectClient(Fixed(401)).list_connectors()
    with pytest.raises(ConnectServerError) as info:
        ConnectClient(Fixed(503)).list_connectors()
    assert info.value.worker_message == "nope" and info.value.status == 503


def test_worker_messages_are_redacted_in_errors() -> None:
    secret = Secret("s3cr3t-in-message")

    class Leaky:
        base_url = "leaky://"

        def request(self, method: str, path: str, *, params=(), body=None) -> HttpResponse:  # type: ignore[no-untyped-def]
            return HttpResponse(400, {"message": f"bad value {secret.reveal()} for x"}, "")

    with pytest.raises(Exception) as info:
        ConnectClient(Leaky()).create_connector("a", {"connector.class": "X"})
    assert "s3cr3t-in-message" not in str(info.value)


def test_requests_exceptions_become_connect_unreachable_without_the_password() -> None:
    with pytest.raises(ConnectUnreachable) as info, map_requests_exceptions("http://127.0.0.1:1"):
        raise requests.exceptions.ConnectionError("http://admin:hunter22@127.0.0.1:1 refused")
    assert "hunter22" not in str(info.value)
    assert info.value.exit_code == 8
    with pytest.raises(ConnectUnreachable) as timeout, map_requests_exceptions("http://x"):
        raise requests.exceptions.ReadTimeout("slow")
    assert "timed out" in timeout.value.reason


def test_real_transport_to_a_closed_port_is_unreachable() -> None:
    client = ConnectClient(RequestsTransport("http://127.0.0.1:9", timeout_s=2))
    with pytest.raises(ConnectUnreachable):
        client.list_connectors()


def test_basic_auth_password_never_prints() -> None:
    auth = BasicAuth.parse("admin:pa55-word-xyz")
    transport = RequestsTransport("https://connect:8083", auth=auth)
    assert "pa55-word-xyz" not in repr(transport)
    assert "pa55-word-xyz" not in repr(ConnectClient(transport))
    assert auth.password.reveal() == "pa55-word-xyz"


def test_wire_config_reveals_secrets_only_on_the_wire() -> None:
    config = {"connector.class": POSTGRES, "database.password": Secret("pw-on-wire-1")}
    assert wire_config(config)["database.password"] == "pw-on-wire-1"
    assert "pw-on-wire-1" not in repr(config)


def test_logger_levels_on_the_fake() -> None:
    client = make(FakeConnectWorker())
    assert client.set_logger_level("io.debezium", "warn") == ["io.debezium"]
    assert client.logger("io.debezium").level == "WARN"
    assert client.set_logger_level("io.debezium", "info", cluster=True) == []


def test_tls_options_map_to_requests() -> None:
    from cdc.transport import TlsOptions

    assert TlsOptions().requests_verify() is True
    assert TlsOptions(ca_bundle="/etc/ca.pem").requests_verify() == "/etc/ca.pem"
    assert TlsOptions(verify=False, ca_bundle="/etc/ca.pem").requests_verify() is False
    assert TlsOptions(client_cert="c.pem", client_key="k.pem").requests_cert() == ("c.pem", "k.pem")
    transport = RequestsTransport("https://connect:8443/", tls=TlsOptions(ca_bundle="/etc/ca.pem"))
    assert transport.base_url == "https://connect:8443"


class _ExpectsRebalance:
    """The fake worker behind a worker that first answers ``times`` requests with the 500 a
    real Connect worker gives while it expects a rebalance."""

    def __init__(self, worker: FakeConnectWorker, times: int) -> None:
        self.worker, self.times = worker, times

    @property
    def base_url(self) -> str:
        return self.worker.base_url

    def request(self, method: str, path: str, **kw: object) -> HttpResponse:
        if self.times > 0:
            self.times -= 1
            message = "Request cannot be completed because a rebalance is expected"
            return HttpResponse(500, {"error_code": 500, "message": message})
        return self.worker.request(method, path, **kw)  # type: ignore[arg-type]


def test_a_500_while_a_rebalance_is_expected_is_retried_like_a_409() -> None:
    worker, clock = FakeConnectWorker(), Clock()
    client = make(worker, clock)
    client.create_connector("a", fake_config("a"))
    flaky = ConnectClient(_ExpectsRebalance(worker, 2), sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]
    assert flaky.get_config("a")["name"] == "a"
    assert clock.sleeps == [0.25, 0.5]


def test_another_500_is_not_retried() -> None:
    worker, clock = FakeConnectWorker(), Clock()
    flaky = _ExpectsRebalance(worker, 1)
    flaky.request = lambda *a, **k: HttpResponse(500, {"message": "boom"})  # type: ignore[method-assign]
    with pytest.raises(ConnectServerError):
        ConnectClient(flaky, sleep=clock.sleep, clock=clock).list_connectors()  # type: ignore[arg-type]
    assert clock.sleeps == []
