"""Shadow configuration, app loading and the ``cutover shadow`` CLI (no Kafka, no PostgreSQL)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from rich.console import Console

from cutover.shadow import Consumer, Event, Handle, ShadowApp, WorkerContext
from legacy_app.orderflow.changes import Changes
from legacy_app.orderflow.domain import parse_order
from legacy_app.orderflow.effects import HttpEffects, Recorder
from legacy_app.orderflow.samples import order_payload
from shadow.breaker import CircuitBreaker
from shadow.cli import plan_values, print_status, shadow
from shadow.config import ShadowConfig, env_options, parse_options
from shadow.errors import CircuitOpenError, EffectRejectedError, ShadowConfigError, TransientError
from shadow.loader import consumers_of, load_app

SAMPLE_PLAN = Path(__file__).resolve().parents[3] / "phases" / "examples" / "sample-plan.yaml"
ENV = {
    "CUTOVER_SHADOW_BOOTSTRAP": "127.0.0.1:9092",
    "CUTOVER_SHADOW_DSN": "host=x password=hunter22 dbname=y",
    "CUTOVER_SHADOW_GROUP": "g",
    "CUTOVER_SHADOW_TOPICS": "a.order,b.order",
    "CUTOVER_SHADOW_APP": "tests.unit.shadow.test_config_cli:TEAM",
    "CUTOVER_SHADOW_OPTION_REGION": "eu",
}

TEAM = ShadowApp("team", topics=("team.events",))
NOT_AN_APP = object()


@TEAM.handler("article.favorited")
def favorited(event: Event, tx: Handle) -> None:
    tx.write("INSERT INTO favorites (id) VALUES (:id)", {"id": event.key})


@TEAM.consumer("audit", topics=("audit.events",))
def audit(ctx: WorkerContext) -> Consumer:
    raise AssertionError("not built by these tests")


def capture(seen: list[ShadowConfig]) -> Any:
    """A stand-in for ``shadow.commands.run`` that keeps the config it was given."""

    def run(config: ShadowConfig, **_kw: Any) -> int:
        seen.append(config)
        return 0

    return run


def config(**given: Any) -> ShadowConfig:
    return ShadowConfig.from_env(
        {k: v for k, v in ENV.items() if k != "CUTOVER_SHADOW_TOPICS"}, **given
    )


def test_config_from_env_keeps_the_dsn_secret() -> None:
    cfg = ShadowConfig.from_env(ENV)
    assert cfg.topics == ("a.order", "b.order")
    assert "hunter22" not in repr(cfg)
    assert cfg.dsn.reveal().endswith("dbname=y")


def test_config_from_env_names_the_app_and_its_options() -> None:
    cfg = ShadowConfig.from_env(ENV, options={"tier": "gold"})
    assert cfg.app == "tests.unit.shadow.test_config_cli:TEAM"
    assert dict(cfg.options) == {"region": "eu", "tier": "gold"}


def test_each_consumer_group_dead_letters_into_its_own_topic() -> None:
    assert config().dead_letter_topic("g.audit") == "g.audit.dlq"
    assert config(dlq_topic="all.dlq").dead_letter_topic("g.audit") == "all.dlq"


def test_missing_connection_settings_are_a_config_error() -> None:
    with pytest.raises(ShadowConfigError):
        ShadowConfig.from_env({})


def test_an_app_reference_that_is_not_module_colon_attribute_is_rejected() -> None:
    with pytest.raises(ShadowConfigError, match="module:attribute"):
        config(app="just_a_module")


def test_the_serial_flag_reaches_the_factories_as_an_option() -> None:
    assert "write_behind" not in config().context().options
    assert config(write_behind=False).context().options["write_behind"] == "false"
    kept = config(write_behind=False, options={"write_behind": "true"})
    assert kept.context().options["write_behind"] == "true"


def test_options_come_from_prefixed_variables_and_key_value_pairs() -> None:
    assert env_options({"CUTOVER_SHADOW_OPTION_BUG": "x", "OTHER": "y"}) == {"bug": "x"}
    assert parse_options(["a=1", "b=x=y"]) == {"a": "1", "b": "x=y"}
    with pytest.raises(ShadowConfigError, match="key=value"):
        parse_options(["novalue"])


def test_loading_an_app_imports_the_module_and_finds_the_attribute() -> None:
    assert load_app("tests.unit.shadow.test_config_cli:TEAM") is TEAM


@pytest.mark.parametrize(
    ("ref", "says"),
    [
        ("no_such_package.mod:app", "cannot import module 'no_such_package.mod'"),
        ("tests.unit.shadow.test_config_cli:MISSING", "has no attribute 'MISSING'"),
        ("tests.unit.shadow.test_config_cli:NOT_AN_APP", "is a object, not a cutover.shadow"),
    ],
)
def test_a_bad_app_is_one_config_error_naming_what_failed(ref: str, says: str) -> None:
    with pytest.raises(ShadowConfigError, match=says) as info:
        load_app(ref)
    assert "\n" not in str(info.value) and info.value.exit_code == 2


def test_the_handlers_run_in_the_base_group_and_each_consumer_in_its_own() -> None:
    placed = {c.name: (c.group, c.topics, c.handlers) for c in consumers_of(TEAM, config())}
    assert placed == {
        "team": ("g", ("team.events",), True),
        "audit": ("g.audit", ("audit.events",), False),
    }


def test_configured_topics_win_over_the_apps() -> None:
    placed = consumers_of(TEAM, config(topics=("x",)))
    assert {c.topics for c in placed} == {("x",)}


def test_consumers_can_be_selected_by_name() -> None:
    assert [c.name for c in consumers_of(TEAM, config(consumers=("audit",)))] == ["audit"]
    with pytest.raises(ShadowConfigError, match="unknown consumers"):
        consumers_of(TEAM, config(consumers=("nope",)))


def test_two_consumers_in_one_group_are_rejected() -> None:
    clash = ShadowApp("clash", topics=("t",))
    clash.handler("a.b")(favorited)
    clash.consumer("other", group_suffix="")(audit)
    with pytest.raises(ShadowConfigError, match="share a consumer group"):
        consumers_of(clash, config())


def test_an_app_without_handlers_or_consumers_is_rejected() -> None:
    with pytest.raises(ShadowConfigError, match="no handler and no consumer"):
        consumers_of(ShadowApp("empty"), config())


def test_a_consumer_without_topics_is_rejected() -> None:
    bare = ShadowApp("bare")
    bare.handler("a.b")(favorited)
    with pytest.raises(ShadowConfigError, match="no topics"):
        consumers_of(bare, config())


def test_the_plan_names_the_contexts_app_topic_and_group(tmp_path: Path) -> None:
    doc = yaml.safe_load(SAMPLE_PLAN.read_text())
    context = next(iter(doc["contexts"]))
    doc["contexts"][context]["shadow"] = {"app": "team.shadow:app", "options": {"k": "v"}}
    doc["contexts"][context]["consumer_group"] = "team.group"
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(doc))
    values = plan_values(path, context)
    assert values["app"] == "team.shadow:app" and values["options"] == {"k": "v"}
    assert values["topics"] == (doc["contexts"][context]["topic"]["name"],)
    assert values["group_id"] == "team.group"


def test_run_takes_the_app_from_the_plan_and_the_option_over_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from shadow import commands

    doc = yaml.safe_load(SAMPLE_PLAN.read_text())
    context = next(iter(doc["contexts"]))
    doc["contexts"][context]["shadow"] = {"app": "team.shadow:app", "options": {"k": "plan"}}
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(doc))
    seen: list[ShadowConfig] = []
    monkeypatch.setattr(commands, "run", capture(seen))
    args = ["--dsn", "x", "--bootstrap", "y", "run", "--plan", str(path), "--context", context]
    result = CliRunner().invoke(shadow, [*args, "--option", "k=cli"])
    assert result.exit_code == 0, result.output
    assert seen[0].app == "team.shadow:app" and seen[0].options["k"] == "cli"


def test_run_without_an_app_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUTOVER_SHADOW_APP", raising=False)
    result = CliRunner().invoke(shadow, ["--dsn", "x", "--bootstrap", "y", "run"])
    assert result.exit_code != 0 and "--app module:attribute" in str(result.exception)


def test_run_serial_flag_turns_write_behind_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from shadow import commands

    seen: list[ShadowConfig] = []
    monkeypatch.setattr(commands, "run", capture(seen))
    runner = CliRunner()
    app = ["--app", "tests.unit.shadow.test_config_cli:TEAM"]
    for args in (["run", *app, "--idle-stop", "1"], ["run", *app, "--serial"]):
        result = runner.invoke(shadow, ["--dsn", "x", "--bootstrap", "y", *args])
        assert result.exit_code == 0, result.output
    assert [c.write_behind for c in seen] == [True, False]


def test_cli_lists_its_commands_and_rejects_a_bad_time() -> None:
    runner = CliRunner()
    help_text = runner.invoke(shadow, ["--help"]).output
    assert all(cmd in help_text for cmd in ("run", "replay", "status"))
    result = runner.invoke(
        shadow, ["--dsn", "x", "--bootstrap", "y", "replay", "--app", "m:a", "--since", "yesterday"]
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


def test_run_takes_topics_after_the_command_too(monkeypatch: pytest.MonkeyPatch) -> None:
    from shadow import commands

    seen: list[ShadowConfig] = []
    monkeypatch.setattr(commands, "run", capture(seen))
    args = [
        "--dsn",
        "x",
        "--bootstrap",
        "y",
        "run",
        "--app",
        "m:a",
        "--topic",
        "t1",
        "--topic",
        "t2",
    ]
    result = CliRunner().invoke(shadow, args)
    assert result.exit_code == 0, result.output
    assert seen[0].topics == ("t1", "t2")
