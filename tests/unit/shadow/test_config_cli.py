from __future__ import annotations

import io

import pytest
from click.testing import CliRunner
from rich.console import Console

from cutover_common.modes import Mode
from legacy_app.orderflow.changes import Changes
from legacy_app.orderflow.domain import parse_order
from legacy_app.orderflow.effects import HttpEffects, Recorder, RecordingEffects
from legacy_app.orderflow.processors import AnalyticsProcessor, Coordination, FlowProcessor
from legacy_app.orderflow.samples import order_payload
from shadow.breaker import CircuitBreaker
from shadow.cli import print_status, shadow
from shadow.config import ShadowConfig, effects_for, processor_for
from shadow.errors import CircuitOpenError, EffectRejectedError, ShadowConfigError, TransientError
from shadow.messages import InboundEvent

ENV = {
    "CUTOVER_SHADOW_BOOTSTRAP": "127.0.0.1:9092",
    "CUTOVER_SHADOW_DSN": "host=x password=hunter22 dbname=y",
    "CUTOVER_SHADOW_GROUP": "g",
    "CUTOVER_SHADOW_TOPICS": "a.order,b.order",
    "CUTOVER_SHADOW_COORDINATION": "saga",
}


def test_config_from_env_keeps_the_dsn_secret() -> None:
    config = ShadowConfig.from_env(ENV)
    assert config.topics == ("a.order", "b.order")
    assert config.dead_letter_topic == "g.dlq"
    assert config.group_for("analytics") == "g.analytics"
    assert config.kinds() == ["flow", "analytics"]
    assert "hunter22" not in repr(config)
    assert config.dsn.reveal().endswith("dbname=y")


def test_missing_connection_settings_are_a_config_error() -> None:
    with pytest.raises(ShadowConfigError):
        ShadowConfig.from_env({})


def test_unknown_context_and_style_are_rejected() -> None:
    with pytest.raises(ShadowConfigError, match="contexts"):
        ShadowConfig.from_env(ENV, contexts=("billing",))
    with pytest.raises(ShadowConfigError, match="coordination"):
        ShadowConfig.from_env(ENV, coordination={"order": "anarchy"})


def test_mode_selects_the_effect_adapter_and_coordination_the_flow() -> None:
    dual = ShadowConfig.from_env(ENV)
    assert isinstance(effects_for(dual), RecordingEffects)
    assert isinstance(effects_for(dual.with_overrides(mode=Mode.ASYNC)), HttpEffects)
    flow = processor_for(dual, "flow")
    assert isinstance(flow, FlowProcessor) and flow.coordination is Coordination.SAGA
    assert isinstance(processor_for(dual, "analytics"), AnalyticsProcessor)


def test_only_events_with_recorded_effects_are_replayable_for_write_behind() -> None:
    dual = ShadowConfig.from_env(ENV)
    assert dual.writes_behind("flow") and dual.writes_behind("analytics")
    flow = processor_for(dual.with_overrides(mode=Mode.ASYNC), "flow")
    headers = {"": None, "dual": True, "async": False, "events-only": False}
    for mode, replayable in headers.items():
        event = InboundEvent("e", "order.created", "o", {}, mode=mode)
        expected = replayable if replayable is not None else False  # no header: the default
        assert flow.replayable(event) is expected, f"mode {mode!r}: a redo would call services"
    assert processor_for(dual, "analytics").replayable(
        InboundEvent("e", "t", "o", {}, mode="async")
    )
    serial = dual.with_overrides(write_behind=False)
    assert not serial.writes_behind("flow") and not serial.writes_behind("analytics")


def test_run_serial_flag_turns_write_behind_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from shadow import commands

    seen: list[ShadowConfig] = []
    monkeypatch.setattr(commands, "run", lambda config, **_kw: seen.append(config))
    runner = CliRunner()
    for args in (["run", "--idle-stop", "1"], ["run", "--serial"]):
        result = runner.invoke(shadow, ["--dsn", "x", "--bootstrap", "y", *args])
        assert result.exit_code == 0, result.output
    assert [c.write_behind for c in seen] == [True, False]


def test_cli_lists_its_commands_and_rejects_a_bad_time() -> None:
    runner = CliRunner()
    help_text = runner.invoke(shadow, ["--help"]).output
    assert all(cmd in help_text for cmd in ("run", "replay", "status"))
    result = runner.invoke(
        shadow, ["--dsn", "x", "--bootstrap", "y", "replay", "--since", "yesterday"]
    )
    assert result.exit_code == 2 and "ISO 8601" in result.output


def test_status_tables_show_lag_dead_letters_and_anomalies() -> None:
    out = io.StringIO()
    print_status(
        {
            "lag": {"g": [{"topic": "t", "partition": 0, "committed": 5, "high": 9, "lag": 4}]},
            "dead_lettered": 2,
            "dead_letter_topic": "g.dlq",
            "anomalies": {"order": {"duplicate": 3}},
        },
        Console(file=out, width=120),
    )
    text = out.getvalue()
    assert "dead-lettered: 2 in g.dlq" in text and "duplicate" in text and "│ 4 " in text


def test_breaker_opens_after_threshold_and_probes_after_reset() -> None:
    now = [0.0]
    breaker = CircuitBreaker("payment", failure_threshold=2, reset_seconds=5, clock=lambda: now[0])
    breaker.record_failure()
    assert breaker.state == "closed"
    breaker.record_failure()
    assert breaker.state == "open" and breaker.retry_after() == 5
    now[0] = 5.0
    assert breaker.state == "half_open" and breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open"
    now[0] = 10.0
    breaker.record_success()
    assert breaker.state == "closed"


def test_http_effects_map_answers_to_errors_and_send_idempotency_keys() -> None:
    seen: list[dict[str, str]] = []
    answers = iter([(503, {"error": "busy"}), (422, {"error": "bad amount"})])

    def post(url: str, body: dict, headers: dict, timeout: float) -> tuple[int, object]:
        seen.append(headers)
        return next(answers)

    breakers = {"payment": CircuitBreaker("payment", failure_threshold=1, reset_seconds=60)}
    effects = HttpEffects({"payment": "http://pay"}, breakers=breakers, post=post)
    effects.correlation_id = "corr-9"
    order = parse_order(order_payload("o-h"))
    rec = Recorder(Changes(), Changes(), {}, __import__("datetime").datetime.now())
    with pytest.raises(TransientError):
        effects.charge(order, rec)
    assert seen[0] == {"Idempotency-Key": "o-h:charge", "X-Correlation-ID": "corr-9"}
    with pytest.raises(CircuitOpenError):
        effects.charge(order, rec)
    breakers["payment"].record_success()
    with pytest.raises(EffectRejectedError, match="bad amount"):
        effects.charge(order, rec)


def test_a_worker_process_stops_itself_once_its_supervisor_is_gone() -> None:
    """The watch SIGTERMs its own process when the parent pid is no longer the one it was
    started under (what a re-parented worker sees); the worker's handler takes it from there."""
    import os
    import signal
    import threading

    from shadow.commands import _stop_when_orphaned

    got = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda _s, _f: got.set())
    try:
        watch = _stop_when_orphaned(parent=os.getppid() + 1_000_000, interval=0.01)
        watch.join(5)
        assert not watch.is_alive()
        for _ in range(100):  # the handler runs on the main thread between bytecodes
            if got.wait(0.01):
                break
        assert got.is_set()
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_the_watch_stays_quiet_while_the_supervisor_lives() -> None:
    import os
    import threading

    from shadow.commands import _stop_when_orphaned

    done = threading.Event()
    watch = _stop_when_orphaned(parent=os.getppid(), interval=0.01, until=done)
    watch.join(0.2)
    assert watch.is_alive(), "still watching: no signal sent"
    done.set()
    watch.join(5)
    assert not watch.is_alive()
