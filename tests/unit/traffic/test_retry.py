"""A request whose transport failed is sent once more only when that cannot do the work twice."""

from __future__ import annotations

from typing import Any

import requests

from rehearsal.traffic import (
    IDEMPOTENCY_HEADER,
    Kind,
    PlannedRequest,
    TrafficConfig,
    run_traffic,
)


class FlakySession(requests.Session):
    """Fails the first ``failures`` requests at the transport, then answers 201."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.sent: list[dict[str, str]] = []

    def request(self, method: str | bytes, url: str | bytes, *_: Any, **kw: Any) -> Any:
        self.sent.append(dict(kw.get("headers") or {}))
        if self.failures > 0:
            self.failures -= 1
            raise requests.ConnectionError("('Connection aborted.', RemoteDisconnected('closed'))")
        resp = requests.Response()
        resp.status_code = 201
        resp._content = b'{"id": "o-1", "status": "completed"}'
        return resp


def _order() -> PlannedRequest:
    body = {"customer_id": "c-1", "items": [{"sku": "x", "quantity": 1}]}
    return PlannedRequest(0, Kind.ORDER, "POST", "/orders", "corr-1", "2xx", body=body)


def _run(req: PlannedRequest, session: FlakySession) -> Any:
    config = TrafficConfig(base_url="http://fake", count=1, rate=100.0, concurrency=1)
    return run_traffic(config, plan=[req], session_factory=lambda: session, preflight=False)


def test_an_order_carries_its_correlation_id_as_idempotency_key() -> None:
    session = FlakySession(0)
    _run(_order(), session)
    assert session.sent[0][IDEMPOTENCY_HEADER] == "corr-1"


def test_an_order_whose_transport_failed_once_is_answered_on_the_retry() -> None:
    session = FlakySession(1)
    report = _run(_order(), session)
    check = next(c for c in report.checks if c.name == "no transport errors")
    assert (len(session.sent), check.passed) == (2, True)
    assert "1 answered on an idempotent retry (first: ConnectionError" in check.detail


def test_an_order_failing_twice_is_a_transport_error() -> None:
    report = _run(_order(), FlakySession(2))
    check = next(c for c in report.checks if c.name == "no transport errors")
    assert (check.passed, check.detail.startswith("1 transport errors (ConnectionError: 1)")) == (
        False,
        True,
    )


def test_a_new_customer_is_never_sent_twice() -> None:
    req = PlannedRequest(0, Kind.NEW_CUSTOMER, "POST", "/customers", "corr-2", "2xx", body={})
    session = FlakySession(1)
    _run(req, session)
    assert len(session.sent) == 1
