"""Scenario files: the bundled ones load; a bad field is reported with its path."""

from __future__ import annotations

from pathlib import Path

import pytest

from rehearsal.scenario import FaultKind, ScenarioError, available, load_scenario


def test_bundled_scenarios_load() -> None:
    assert {"default", "negative"} <= set(available())
    default = load_scenario("default")
    assert {f.kind for f in default.faults} >= {
        FaultKind.KILL_SHADOW_WORKER,
        FaultKind.RESTART_CONNECT,
    }
    assert load_scenario("negative").shadow.bug == "total_rounding"


def test_a_bad_field_is_reported_with_its_path(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntraffic: {rate: -1}\nfaults: [{kind: meteor_strike}]\n")

    with pytest.raises(ScenarioError) as err:
        load_scenario(str(bad))

    assert any(e.startswith("traffic.rate:") for e in err.value.errors)
    assert any(e.startswith("faults.0.kind:") for e in err.value.errors)
    assert err.value.exit_code == 2


def test_an_unknown_scenario_names_the_bundled_ones() -> None:
    with pytest.raises(ScenarioError, match="bundled: default"):
        load_scenario("no-such-scenario")
