"""Where the shadow workers' metrics listen: loopback unless told (0.0.0.0 in a container)."""

from __future__ import annotations

from shadow.config import ShadowConfig

ENV = {"CUTOVER_SHADOW_BOOTSTRAP": "k:9092", "CUTOVER_SHADOW_DSN": "postgresql://u@h/d"}


def test_metrics_listen_on_loopback_by_default() -> None:
    assert ShadowConfig.from_env(ENV).metrics_host == "127.0.0.1"


def test_the_metrics_host_comes_from_the_environment() -> None:
    env = {**ENV, "CUTOVER_SHADOW_METRICS_HOST": "0.0.0.0"}

    assert ShadowConfig.from_env(env).metrics_host == "0.0.0.0"
