"""``cutover outbox purge`` without a database: durations, bad input, the refusal's text.

The rule itself (only rows the slot has confirmed) runs on the real stack:
``tests/integration/cutover/test_outbox_purge.py``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import structlog
import yaml

from cdc.outbox_table import OutboxColumns, OutboxLayout
from cutover.commands import OutboxCommandConfig, outbox_purge
from cutover.errors import OutboxConfigError, PurgeRefused
from cutover.purge import SlotState, _refusal, parse_duration, purge_outbox
from cutover_common.cli import run_cli
from cutover_common.exit_codes import ExitCode
from phases.cli import cli
from tests.unit.phases.conftest import SAMPLE


@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture
def plan_path(tmp_path: Path) -> Path:
    data = yaml.safe_load(SAMPLE.read_text())
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("12h", timedelta(hours=12)),
        (" 7d ", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
    ],
)
def test_durations_take_a_number_and_a_unit(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "7", "0d", "-1d", "1.5h", "7days", "d"])
def test_a_duration_that_is_not_one_is_invalid_input(text: str) -> None:
    with pytest.raises(OutboxConfigError, match="is not a positive duration") as info:
        parse_duration(text)
    assert info.value.exit_code == ExitCode.INVALID_INPUT


def test_a_bad_duration_is_refused_before_the_plan_or_database_is_read(tmp_path: Path) -> None:
    config = OutboxCommandConfig(tmp_path / "absent.yaml", stdout=io.StringIO(), environ={})
    with pytest.raises(OutboxConfigError, match="'soon'"):
        outbox_purge(config, "soon")


def test_without_the_database_variable_purge_says_which(plan_path: Path) -> None:
    config = OutboxCommandConfig(plan_path, stdout=io.StringIO(), environ={})
    with pytest.raises(OutboxConfigError, match="LEGACY_DATABASE_URL is not set"):
        outbox_purge(config, "7d")


def test_a_layout_without_created_at_cannot_age_rows() -> None:
    layout = OutboxLayout("app.events", OutboxColumns(created_at=None))
    with pytest.raises(OutboxConfigError, match="no created_at column") as info:
        purge_outbox("postgresql://nobody@nowhere/db", layout, "slot", timedelta(days=1))
    assert info.value.exit_code == ExitCode.INVALID_INPUT


def test_the_cli_prints_one_line_and_exits_2_on_a_bad_duration(
    plan_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_cli(cli, ["outbox", "purge", "--older-than", "soon", "--plan", str(plan_path)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'soon' is not a positive duration" in err[0]


def test_an_inactive_slot_is_named_with_both_positions_and_exits_unhealthy() -> None:
    refusal = _refusal(
        OutboxLayout(),
        "cutover_outbox",
        12,
        timedelta(days=7),
        "0/3000060",
        SlotState(active=False, confirmed_lsn="0/2000000", reached=False),
        0.0,
    )
    assert isinstance(refusal, PurgeRefused)
    assert refusal.exit_code == ExitCode.UNHEALTHY
    assert refusal.reason == (
        "nothing purged: 12 rows of public.outbox are older than 1w, but replication slot "
        "cutover_outbox is inactive (connector stopped?): confirmed 0/2000000, captured rows "
        "need 0/3000060"
    )


def test_a_slot_behind_after_the_wait_is_named_as_lagging() -> None:
    refusal = _refusal(
        OutboxLayout(),
        "s",
        1,
        timedelta(hours=36),
        "0/3",
        SlotState(active=True, confirmed_lsn=None, reached=False),
        30.2,
    )
    assert "did not confirm it within 30s (connector paused or lagging)" in refusal.reason
    assert "confirmed nothing" in refusal.reason and "older than 36h" in refusal.reason
