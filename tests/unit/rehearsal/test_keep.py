"""``cutover rehearse --keep`` keeps everything running, the shadow workers included."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from rehearsal import environment
from rehearsal.environment import RehearsalEnvironment, teardown_steps


def _fake_environment(calls: list[str]) -> SimpleNamespace:
    return SimpleNamespace(
        workers=SimpleNamespace(stop=lambda: calls.append("workers")),
        stop_app=lambda: calls.append("app"),
        _delete_connector=lambda: calls.append("connector"),
        endpoints="endpoints",
        database="rehearsal_x",
    )


def test_keep_tears_nothing_down() -> None:
    assert teardown_steps(keep=True) == ()


def test_without_keep_everything_goes_workers_first() -> None:
    assert teardown_steps(keep=False) == ("workers", "app", "connector", "database")


def test_teardown_with_keep_leaves_the_shadow_workers_running() -> None:
    calls: list[str] = []
    RehearsalEnvironment.teardown(_fake_environment(calls), keep=True)  # type: ignore[arg-type]
    assert calls == []


def test_teardown_without_keep_stops_workers_app_connector_and_drops_the_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(
        environment, "drop_database", lambda ep, db: calls.append(f"database {ep} {db}")
    )
    RehearsalEnvironment.teardown(_fake_environment(calls), keep=False)  # type: ignore[arg-type]
    assert calls == ["workers", "app", "connector", "database endpoints rehearsal_x"]
