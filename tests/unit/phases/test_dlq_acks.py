"""Dead-letter acknowledgements as audit rows (SQLite state store), and the ``dlq`` commands'
one-line refusals before anything is read."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from cutover_common.exit_codes import ExitCode
from phases.dlq_acks import ACTION, AuditAckLog, ack_log_for
from phases.store import StateStore, make_engine
from shadow.cli import shadow
from shadow.dlq_ops import DlqAck, acknowledged
from shadow.errors import AcknowledgementsUnavailable, ShadowConfigError

BASE = ["--bootstrap", "127.0.0.1:1", "--dsn", "host=nowhere", "dlq"]
APP = ["--app", "myteam.shadow:app", "--plan", "no-such-plan.yaml"]


def _store(tmp_path: Path) -> tuple[str, StateStore]:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = StateStore(make_engine(url))
    store.initialise()
    return url, store


def test_an_ack_is_an_audit_row_read_back_per_topic(tmp_path: Path) -> None:
    _url, store = _store(tmp_path)
    log = AuditAckLog(store, "ops@host")
    at = datetime(2026, 12, 6, 14, tzinfo=UTC)
    log.record(DlqAck("g.dlq", {0: [(0, 2)]}, 2, "purge", filter={"kinds": ["undecodable"]}, at=at))
    log.record(DlqAck("h.dlq", {1: [(4, 5)]}, 1, "replay", "alice@host", at=at))
    log.record(DlqAck("g.dlq", {0: [(2, 3)]}, 1, "replay", at=at))
    assert [a.count for a in log.acks("g.dlq")] == [2, 1]  # oldest first
    assert acknowledged(log.acks("g.dlq"), "g.dlq") == {0: [(0, 3)]}
    rows = store.history(10, action=ACTION)
    assert [(r.actor, r.verdict) for r in rows] == [
        ("ops@host", "replay"), ("alice@host", "replay"), ("ops@host", "purge"),
    ]  # fmt: skip
    assert rows[-1].detail and rows[-1].detail["filter"] == {"kinds": ["undecodable"]}


def test_the_audit_trail_is_found_from_the_environment_or_not_at_all(tmp_path: Path) -> None:
    url, _ = _store(tmp_path)
    assert ack_log_for({}) is None
    found = ack_log_for({"CUTOVER_STATE_URL": url}, actor="ops")
    assert found is not None and found.acks("g.dlq") == []


def test_purge_without_a_state_store_is_one_line_exit_2() -> None:
    result = CliRunner().invoke(
        shadow, [*BASE, "purge", *APP, "--yes"], env={"CUTOVER_STATE_URL": ""}
    )
    assert isinstance(result.exception, AcknowledgementsUnavailable)
    assert result.exception.exit_code == ExitCode.INVALID_INPUT
    assert "--plan" in str(result.exception)


def test_show_with_junk_coordinates_is_a_config_error() -> None:
    result = CliRunner().invoke(shadow, [*BASE, "show", "junk", *APP])
    assert isinstance(result.exception, ShadowConfigError)
    assert "PARTITION@OFFSET" in str(result.exception)
