from __future__ import annotations

import io
import json
import time

import pytest
from click.testing import CliRunner

from rehearsal.traffic import (
    Kind,
    TrafficConfig,
    TrafficError,
    TrafficMix,
    plan_requests,
    run_traffic,
)
from rehearsal.traffic_cli import traffic, traffic_run
from tests.unit.traffic.fake_api import create_fake_app, serve


def test_runner_sends_the_plan_and_checks_pass() -> None:
    app = create_fake_app()
    with serve(app) as base:
        config = TrafficConfig(base, rate=400, count=120, concurrency=4, seed=42, run_id="t1")
        report = run_traffic(config)
    assert report.sent == report.planned == 120
    assert report.passed, report.to_dict()["checks"]
    plan = plan_requests(42, 120, run_id="t1")
    expected_labels = {r.label for r in plan}
    assert {k.label for k in report.by_kind} == expected_labels
    assert sum(k.sent for k in report.by_kind) == 120
    sent_ids = set(app.config["SEEN_CORRELATION_IDS"])
    assert {r.correlation_id for r in plan if r.label != "malformed:oversized_body"} <= sent_ids
    accepted = [r for r in plan if r.kind in (Kind.ORDER, Kind.DECLINED_PAYMENT, Kind.OUT_OF_STOCK)]
    assert len(report.orders) == len(accepted)
    statuses = {o["kind"]: o["status"] for o in report.orders}
    assert statuses.get("order") == "completed"
    assert statuses.get("declined_payment") == "failed"


def test_runner_holds_the_target_rate() -> None:
    with serve(create_fake_app()) as base:
        config = TrafficConfig(base, rate=40, count=40, concurrency=4, seed=1, run_id="rate")
        started = time.monotonic()
        report = run_traffic(config)
        elapsed = time.monotonic() - started
    assert elapsed >= 0.95  # the 40th request is due 0.975 s after the first
    assert 10 <= report.achieved_rate <= 42  # never faster than the target


def test_server_errors_fail_the_valid_check() -> None:
    mix = TrafficMix(new_customer=0, order=1, declined_payment=0, out_of_stock=0, malformed=0)
    with serve(create_fake_app(fail_orders=True)) as base:
        report = run_traffic(
            TrafficConfig(base, rate=500, count=10, concurrency=2, mix=mix, run_id="e")
        )
    check = next(c for c in report.checks if c.name == "valid requests get a 2xx")
    assert not check.passed
    assert report.status_counts == {"201": 3, "500": 7}


def test_unreachable_api_is_a_traffic_error() -> None:
    with serve(create_fake_app()) as base:
        pass  # server now stopped: the port is closed
    with pytest.raises(TrafficError) as info:
        run_traffic(TrafficConfig(base, count=1, timeout=1))
    assert info.value.base_url == base


def test_traffic_run_prints_json_and_exit_code() -> None:
    out, progress = io.StringIO(), io.StringIO()
    with serve(create_fake_app()) as base:
        config = TrafficConfig(base, rate=500, count=30, concurrency=3, seed=9, run_id="j")
        code = traffic_run(config, out, as_json=True, progress_stream=progress)
    data = json.loads(out.getvalue())
    assert code == 0
    assert (data["sent"], data["seed"], data["run_id"], data["ok"]) == (30, 9, "j", True)


def test_cli_prints_the_summary_table() -> None:
    with serve(create_fake_app()) as base:
        result = CliRunner().invoke(
            traffic,
            [
                "--base-url",
                base,
                "--rate",
                "500",
                "--count",
                "25",
                "--seed",
                "3",
                "--run-id",
                "cli",
            ],
        )
    assert result.exit_code == 0, result.output
    assert "PASS malformed requests get a 4xx" in result.output
    assert "new_customer" in result.output


def test_cli_rejects_a_bad_mix_as_a_usage_error() -> None:
    result = CliRunner().invoke(traffic, ["--mix", "bogus=1", "--count", "1"])
    assert result.exit_code == 2
    assert "Invalid value for --mix: bad mix entry 'bogus=1'" in result.output


def test_dry_run_sends_nothing_and_is_deterministic() -> None:
    args = ["--dry-run", "--json", "--count", "200", "--seed", "5", "--run-id", "d"]
    first = CliRunner().invoke(traffic, [*args, "--base-url", "http://127.0.0.1:9"])
    second = CliRunner().invoke(traffic, args)
    assert first.exit_code == 0, first.output
    assert first.output == second.output
    data = json.loads(first.output)
    assert data["requests"] == 200
    assert sum(data["by_kind"].values()) == 200
    assert data["first"][0]["kind"] == "new_customer"
