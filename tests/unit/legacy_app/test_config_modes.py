"""Configuration layering and the cached mode reader."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine

import cutover
from cutover import Mode
from legacy_app.config import FaultSettings, load_config
from legacy_app.errors import ConfigError
from legacy_app.modes import mode_switch
from tests.support.cutover_state import write_mode


def test_defaults_then_mapping_then_env() -> None:
    cfg = load_config(
        {"DATABASE_URL": "sqlite://", "HTTP_RETRIES": 4, "payment_url": "http://p:1"},
        {"CUTOVER_HTTP_RETRIES": "1", "CUTOVER_OTHER": "x"},
    )
    assert cfg.database_url == "sqlite://"
    assert cfg.http_retries == 1
    assert cfg.service_url("payment") == "http://p:1"
    assert cfg.service_url("email") == "http://127.0.0.1:5004"


def test_faults_per_service_from_env() -> None:
    cfg = load_config(
        {},
        {"CUTOVER_FAULT_PAYMENT_ERROR_RATE": "0.25", "CUTOVER_FAULT_CRASH_BEFORE_PRODUCE": "0.1"},
    )
    assert cfg.fault("payment") == FaultSettings(error_rate=0.25)
    assert cfg.fault("email") == FaultSettings()
    assert cfg.fault_crash_before_produce == 0.1


@pytest.mark.parametrize(
    "env",
    [
        {"CUTOVER_HTTP_RETRIES": "many"},
        {"CUTOVER_HTTP_READ_TIMEOUT": "-1"},
        {"CUTOVER_FAULT_PAYMENT_ERROR_RATE": "2"},
        {"CUTOVER_FAULT_EMAIL_DELAY_PHASE": "during"},
    ],
)
def test_bad_values_raise_config_error(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        load_config({}, env)


def test_the_services_mode_switch_caches_then_rereads(engine: Engine) -> None:
    clock = [0.0]
    modes = cutover.ModeSwitch.from_engine(engine, ttl=1.0, clock=lambda: clock[0])
    assert modes.mode("payment") is Mode.SYNC
    write_mode(engine, "payment", Mode.DUAL)
    assert modes.mode("payment") is Mode.SYNC  # cached
    clock[0] = 1.0
    assert modes.mode("payment") is Mode.DUAL
    write_mode(engine, "payment", "async")
    clock[0] = 2.5
    assert modes.mode("payment") is Mode.ASYNC and modes.mode("email") is Mode.SYNC


def test_the_service_reports_the_modes_it_runs_on(engine: Engine) -> None:
    write_mode(engine, "order", Mode.DUAL)
    switch = mode_switch(engine)
    try:
        assert switch.beat() is True
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT instance_id, modes FROM instance_heartbeats").all()
    finally:
        switch.stop()
    assert [(r[0], json.loads(r[1])) for r in rows] == [(switch.instance_id, {"order": "dual"})]
