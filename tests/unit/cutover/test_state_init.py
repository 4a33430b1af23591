"""``cutover init`` and the refusal of an uninitialised store, on SQLite (no schema there):
what init creates, that it is idempotent, ``--sql`` connecting to nothing, the state split
across two databases, the earlier layout's rows moved in."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from sqlalchemy import create_engine, inspect, text

from cutover.state.commands import init
from cutover.state.errors import StateNotInitialised
from cutover.state.init import head_revision, require_initialised, upgrade, upgrade_sql
from cutover.state.models import APP_TABLES, STATE_TABLES
from cutover_common.cli import run_cli
from phases import commands
from phases.cli import cli
from phases.commands import CommandConfig
from phases.fakes import fake_ports
from phases.store import SqlModeStore, StateStore

SAMPLE = Path(__file__).resolve().parents[3] / "phases" / "examples" / "sample-plan.yaml"


@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    """The root command configures logging onto the captured stderr: restore it after."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def _config(tmp_path: Path, **environ: str) -> CommandConfig:
    return CommandConfig(
        plan_path=SAMPLE,
        reports_dir=tmp_path / "reports",
        stdout=io.StringIO(),
        environ={"LEGACY_DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}", **environ},
        ports_factory=lambda _plan, modes: fake_ports(modes),  # type: ignore[arg-type]
    )


def _tables(path: Path) -> set[str]:
    engine = create_engine(f"sqlite:///{path}")
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_init_creates_every_table_at_head_and_a_second_run_changes_nothing(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)

    assert init(config) == 0
    first = config.stdout.getvalue()  # type: ignore[attr-defined]
    config.stdout, config.json = io.StringIO(), True
    assert init(config) == 0

    assert f"cutover tables created at revision {head_revision()}" in first
    (db,) = json.loads(config.stdout.getvalue())["databases"]  # type: ignore[attr-defined]
    assert (db["from_revision"], db["changed"]) == (head_revision(), False)
    assert set(APP_TABLES + STATE_TABLES) | {"cutover_alembic_version"} == _tables(
        tmp_path / "app.db"
    )


@pytest.mark.parametrize(
    "args",
    [["status"], ["history"], ["gate", "check"], ["advance", "--to", "1"], ["rollback"]],
)
def test_state_reading_commands_refuse_an_uninitialised_store_with_one_line_and_exit_14(
    tmp_path: Path,
    args: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LEGACY_DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    monkeypatch.setenv("CUTOVER_PLAN", str(SAMPLE))
    monkeypatch.delenv("CUTOVER_STATE_URL", raising=False)

    code = run_cli(cli, args)

    assert code == 14
    out = capsys.readouterr()
    lines = [ln for ln in (out.out + out.err).splitlines() if ln.strip()]
    assert len(lines) == 1 and "run `cutover init`" in lines[0], lines
    assert _tables(tmp_path / "app.db") == set()  # created nothing


def test_store_reads_on_an_uninitialised_database_raise_not_initialised(tmp_path: Path) -> None:
    store = StateStore.from_url(f"sqlite:///{tmp_path / 'state.db'}")
    for read in (store.phase, store.history, store.journal, store.require_initialised):
        with pytest.raises(StateNotInitialised, match="cutover init"):
            read()
    assert _tables(tmp_path / "state.db") == set()


def test_sql_prints_the_ddl_of_both_databases_and_connects_to_nothing(tmp_path: Path) -> None:
    config = _config(tmp_path, CUTOVER_STATE_URL="postgresql://nowhere.invalid/state")
    config.environ["LEGACY_DATABASE_URL"] = "postgresql://nowhere.invalid/app"

    assert init(config, sql_only=True) == 0

    script = config.stdout.getvalue()  # type: ignore[attr-defined]
    app, state = script.split("-- cutover init: the state database\n")
    assert "CREATE SCHEMA IF NOT EXISTS cutover" in app and "CREATE SCHEMA" in state
    assert "CREATE TABLE cutover.context_modes" in app and "cutover.audit" not in app
    assert "CREATE TABLE cutover.audit" in state and "cutover.context_modes" not in state
    assert "CREATE TRIGGER audit_no_change" in state
    assert "CREATE TABLE cutover.alembic_version" in app


def test_sql_follows_the_plan_state_schema(tmp_path: Path) -> None:
    sql = upgrade_sql("postgresql", schema="ops_cutover", groups=("app",))
    assert "CREATE TABLE ops_cutover.verify_results" in sql
    assert "WHERE inconclusive" in sql  # the partial index


def test_state_apart_from_the_application_each_database_gets_its_tables(tmp_path: Path) -> None:
    config = _config(tmp_path, CUTOVER_STATE_URL=f"sqlite:///{tmp_path / 'state.db'}")

    assert init(config) == 0

    assert set(APP_TABLES) <= _tables(tmp_path / "app.db")
    assert not set(STATE_TABLES) & _tables(tmp_path / "app.db")
    assert set(STATE_TABLES) <= _tables(tmp_path / "state.db")
    assert not set(APP_TABLES) & _tables(tmp_path / "state.db")
    config.json = True
    config.stdout = io.StringIO()
    assert commands.status(config) == 0
    assert json.loads(config.stdout.getvalue())["phase"] == 0  # type: ignore[attr-defined]


def test_an_uninitialised_application_database_is_named_when_the_state_is_apart(
    tmp_path: Path,
) -> None:
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    upgrade(create_engine(state_url), groups=("state",))
    config = _config(tmp_path, CUTOVER_STATE_URL=state_url)

    with pytest.raises(StateNotInitialised, match="application database") as info:
        commands.status(config)
    assert info.value.exit_code == 14


def test_the_earlier_layout_rows_move_in_on_sqlite_too(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        for ddl in (
            "CREATE TABLE cutover_phase_state (id INTEGER PRIMARY KEY, phase INTEGER NOT NULL, "
            "plan_digest VARCHAR(64), updated_at TIMESTAMP NOT NULL, updated_by VARCHAR(200))",
            "CREATE TABLE cutover_context_modes (context VARCHAR(100) PRIMARY KEY, "
            "mode VARCHAR(20) NOT NULL, updated_at TIMESTAMP, updated_by VARCHAR(200))",
            "CREATE TABLE sync_verify_results (id INTEGER PRIMARY KEY, order_id VARCHAR(36), "
            "context VARCHAR(40), operation VARCHAR(40), result JSON, "
            "correlation_id VARCHAR(255), recorded_at TIMESTAMP)",
            "INSERT INTO cutover_phase_state VALUES (1, 4, NULL, '2026-12-01', 'alice')",
            "INSERT INTO cutover_context_modes VALUES ('payment', 'async', '2026-12-01', 'a')",
            "INSERT INTO sync_verify_results (order_id, context, operation, result, "
            "correlation_id) VALUES "
            "('o-1', 'order', 'finish', '{\"status\": \"completed\"}', 'c'), "
            "('o-2', 'order', 'finish', '{\"status\": \"failed\", \"inconclusive\": true}', 'c'), "
            "('o-2', 'payment', 'charge', '{\"inconclusive\": true}', 'c')",
        ):
            conn.execute(text(ddl))

    upgrade(engine)

    require_initialised(engine)
    assert StateStore(engine).phase() == 4
    assert SqlModeStore(engine).get_modes() == {"payment": "async"}
    with engine.connect() as conn:
        flags = conn.execute(
            text("SELECT business_key, operation, inconclusive FROM verify_results ORDER BY id")
        ).all()
    assert [tuple(r) for r in flags] == [
        ("o-1", "finish", 0),
        ("o-2", "finish", 1),
        ("o-2", "charge", 0),
    ], "only an order's finish row carries the verdict"
    tables = set(inspect(engine).get_table_names())
    assert not {"cutover_phase_state", "cutover_context_modes", "sync_verify_results"} & tables
    engine.dispose()


def test_a_database_at_an_older_revision_is_refused_naming_its_revision(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    upgrade(engine)
    with engine.begin() as conn:  # as an earlier cutover would have left it
        conn.execute(text("UPDATE cutover_alembic_version SET version_num = '0000'"))

    with pytest.raises(StateNotInitialised, match="revision 0000, older") as info:
        require_initialised(engine)
    assert info.value.revision == "0000"
    engine.dispose()
