from __future__ import annotations

from rehearsal.traffic import Sample, build_report, percentile


def s(index: int, label: str, expect: str, status: int | None, ms: float, **kw: object) -> Sample:
    return Sample(index, label, expect, status, ms, **kw)  # type: ignore[arg-type]


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 90), percentile(values, 99)) == (
        50.0,
        90.0,
        99.0,
    )
    assert percentile([], 50) == 0.0
    assert percentile([7.0], 99) == 7.0


def test_report_counts_statuses_and_kinds() -> None:
    samples = [
        s(0, "new_customer", "2xx", 201, 5, order_id=None),
        s(
            1,
            "order",
            "2xx",
            201,
            10,
            order_id="o-1",
            correlation_id="c-1",
            order_status="completed",
        ),
        s(
            2,
            "order",
            "2xx",
            201,
            30,
            order_id="o-2",
            correlation_id="c-2",
            order_status="completed",
        ),
        s(3, "malformed:negative_qty", "4xx", 422, 2),
    ]
    report = build_report(samples, planned=4, elapsed=2.0, target_rate=2.0)
    assert report.sent == 4 and report.achieved_rate == 2.0
    assert report.status_counts == {"201": 3, "422": 1}
    order = next(k for k in report.by_kind if k.label == "order")
    assert (order.sent, order.status_counts, order.p50_ms, order.p99_ms) == (
        2,
        {"201": 2},
        10.0,
        30.0,
    )
    assert report.passed
    assert [o["order_id"] for o in report.orders] == ["o-1", "o-2"]
    assert report.to_dict()["by_kind"]["order"]["latency_ms"]["p90"] == 30.0


def test_malformed_answered_2xx_fails_its_check() -> None:
    report = build_report(
        [s(0, "malformed:unknown_sku", "4xx", 201, 1)], planned=1, elapsed=1, target_rate=1
    )
    check = next(c for c in report.checks if c.name == "malformed requests get a 4xx")
    assert not check.passed and "1 did not" in check.detail and "201" in check.detail
    assert not report.passed


def test_valid_answered_5xx_and_transport_errors_fail() -> None:
    samples = [s(0, "order", "2xx", 500, 1), s(1, "order", "2xx", None, 1, error="ConnectionError")]
    report = build_report(samples, planned=3, elapsed=1, target_rate=1)
    failed = {c.name for c in report.checks if not c.passed}
    assert failed == {
        "valid requests get a 2xx",
        "no transport errors",
        "every planned request sent",
    }
    assert report.errors == ("#1 order: ConnectionError",)
    assert report.status_counts == {"500": 1, "error": 1}


def test_transport_errors_check_names_the_error_types() -> None:
    samples = [
        s(0, "order", "2xx", None, 1, error="ReadTimeout"),
        s(1, "order", "2xx", None, 1, error="ReadTimeout"),
        s(2, "order", "2xx", None, 1, error="ConnectionError"),
    ]
    report = build_report(samples, planned=3, elapsed=1, target_rate=1)
    check = next(c for c in report.checks if c.name == "no transport errors")
    assert check.detail == "3 transport errors (ReadTimeout: 2, ConnectionError: 1)"


def test_transport_error_detail_is_kept_in_the_report_errors() -> None:
    detail = "('Connection aborted.', RemoteDisconnected('Remote end closed connection'))"
    samples = [s(0, "order", "2xx", None, 1, error="ConnectionError", detail=detail)]
    report = build_report(samples, planned=1, elapsed=1.0, target_rate=1.0)
    assert report.errors == (f"#0 order: ConnectionError ({detail})",)
