"""The sample's order flow as a shadow app: its consumers, groups and options."""

from __future__ import annotations

import pytest

from cutover.shadow import InboundEvent, ShadowApp, ShadowConfigError, WorkerContext
from legacy_app.orderflow.app import (
    app,
    contexts_of,
    coordination_of,
    option,
    service_urls_of,
    writes_behind,
)
from legacy_app.orderflow.effects import HttpEffects, RecordingEffects, default_service_urls
from legacy_app.orderflow.processors import (
    FLOW_CONTEXTS,
    AnalyticsProcessor,
    Coordination,
    FlowProcessor,
)


def ctx(**options: str) -> WorkerContext:
    return WorkerContext("postgresql://unused", "shadow", "dual", options)


def test_the_app_is_a_shadow_app_with_the_flow_and_analytics_consumers() -> None:
    assert isinstance(app, ShadowApp)
    assert not app.handlers
    assert sorted(app.consumers) == ["analytics", "flow"]


def test_the_flow_keeps_the_group_and_analytics_takes_its_own() -> None:
    assert app.consumers["flow"].group("cutover.shadow") == "cutover.shadow"
    assert app.consumers["analytics"].group("cutover.shadow") == "cutover.shadow.analytics"


def test_coordination_comes_from_the_option_before_the_old_variable() -> None:
    env = {"CUTOVER_SHADOW_COORDINATION": "saga"}
    assert coordination_of(ctx(), env) is Coordination.SAGA
    assert coordination_of(ctx(coordination="choreography"), env) is Coordination.CHOREOGRAPHY
    assert coordination_of(ctx(), {}) is Coordination.CHOREOGRAPHY


def test_an_unknown_coordination_is_a_config_error() -> None:
    with pytest.raises(ShadowConfigError, match="anarchy"):
        coordination_of(ctx(coordination="anarchy"), {})


def test_the_bug_option_falls_back_to_cutover_shadow_bug() -> None:
    assert option(ctx(), "bug", {"CUTOVER_SHADOW_BUG": "total_rounding"}) == "total_rounding"
    assert option(ctx(), "bug", {"CUTOVER_SHADOW_BUG": ""}) is None


def test_contexts_default_to_the_whole_flow_and_reject_unknown_ones() -> None:
    assert contexts_of(ctx()) == FLOW_CONTEXTS
    assert contexts_of(ctx(contexts="order, payment")) == {"order", "payment"}
    with pytest.raises(ShadowConfigError, match="favorite"):
        contexts_of(ctx(contexts="order,favorite"))


def test_a_service_url_option_overrides_the_local_default() -> None:
    urls = service_urls_of(ctx(payment_url="http://pay:80"))
    assert urls["payment"] == "http://pay:80"
    assert urls["inventory"] == "http://127.0.0.1:5001"


def test_write_behind_is_on_unless_an_option_turns_it_off() -> None:
    assert writes_behind(ctx())
    assert not writes_behind(ctx(write_behind="false"))


@pytest.mark.parametrize(
    ("mode", "replayable"), [("", True), ("dual", True), ("async", False), ("events-only", False)]
)
def test_only_flow_events_with_recorded_effects_are_replayable(mode: str, replayable: bool) -> None:
    flow = FlowProcessor(
        RecordingEffects(), performing=HttpEffects(default_service_urls()), default_mode="dual"
    )
    event = InboundEvent("e", "order.created", "o", {}, mode=mode)
    assert flow.replayable(event) is replayable, f"mode {mode!r}: a redo would call services"


def test_analytics_events_are_always_replayable() -> None:
    event = InboundEvent("e", "order.created", "o", {}, mode="async")
    assert AnalyticsProcessor().replayable(event)
