"""cutover's own tables on the real Postgres: ``cutover init`` creates them in their schema,
upgrades a database of the earlier layout (tables in ``public``) keeping phase, modes and
audit rows, and every state-reading command refuses an uninitialised database, creating
nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from cutover.state.init import head_revision, upgrade

# The layout cutover wrote before its tables had their own schema (copied from the code of
# that time: phases/schema.py, cutover_common/modes.py, legacy_app/models.py), as literal SQL.
EARLIER_LAYOUT = """
CREATE TABLE cutover_context_modes (
    context     varchar(100) PRIMARY KEY,
    mode        varchar(20)  NOT NULL CHECK (mode IN ('sync','dual','naive-dual','async','events-only')),
    updated_at  timestamptz  NOT NULL DEFAULT now(),
    updated_by  varchar(200) NOT NULL DEFAULT 'system'
);
CREATE TABLE cutover_phase_state (
    id integer PRIMARY KEY, phase integer NOT NULL, plan_digest varchar(64),
    updated_at timestamptz NOT NULL, updated_by varchar(200) NOT NULL
);
CREATE TABLE cutover_transition_in_progress (
    id integer PRIMARY KEY, kind varchar(20) NOT NULL, from_phase integer NOT NULL,
    to_phase integer NOT NULL, plan_json text NOT NULL, done_moves integer NOT NULL,
    stage varchar(40) NOT NULL, actor varchar(200) NOT NULL,
    started_at timestamptz NOT NULL, updated_at timestamptz NOT NULL
);
CREATE TABLE cutover_lock (
    name varchar(50) PRIMARY KEY, owner varchar(200) NOT NULL,
    acquired_at timestamptz NOT NULL, expires_at timestamptz NOT NULL
);
CREATE TABLE cutover_audit (
    id serial PRIMARY KEY, at timestamptz NOT NULL, actor varchar(200) NOT NULL,
    action varchar(40) NOT NULL, from_phase integer NOT NULL, to_phase integer NOT NULL,
    contexts varchar(1000) NOT NULL, verdict varchar(20), evidence_path varchar(1000),
    evidence_sha256 varchar(64), detail text NOT NULL
);
CREATE OR REPLACE FUNCTION cutover_audit_append_only() RETURNS trigger AS $$
   BEGIN RAISE EXCEPTION 'cutover_audit is append-only'; END $$ LANGUAGE plpgsql;
CREATE OR REPLACE TRIGGER cutover_audit_no_change BEFORE UPDATE OR DELETE ON cutover_audit
   FOR EACH ROW EXECUTE FUNCTION cutover_audit_append_only();
CREATE TABLE sync_verify_results (
    id serial PRIMARY KEY, order_id varchar(36) NOT NULL, context varchar(40) NOT NULL,
    operation varchar(40) NOT NULL, result jsonb NOT NULL, correlation_id varchar(255) NOT NULL,
    recorded_at timestamptz DEFAULT now()
);
CREATE TABLE sync_call_attempts (
    id serial PRIMARY KEY, context varchar(40) NOT NULL, operation varchar(40) NOT NULL,
    order_id varchar(36), correlation_id varchar(255), attempted_at timestamptz DEFAULT now()
);
INSERT INTO cutover_phase_state VALUES (1, 3, 'abc123', now(), 'alice@ops');
INSERT INTO cutover_context_modes (context, mode, updated_by)
    VALUES ('payment', 'dual', 'alice@ops'), ('order', 'sync', 'alice@ops');
INSERT INTO cutover_audit (at, actor, action, from_phase, to_phase, contexts, verdict, detail)
    VALUES (now(), 'alice@ops', 'advance', 1, 2, '', 'pass', '{}'),
           (now(), 'alice@ops', 'advance', 2, 3, 'payment', 'pass', '{"n": 1}');
INSERT INTO sync_verify_results (order_id, context, operation, result, correlation_id)
    VALUES ('o-1', 'order', 'finish', '{"inconclusive": true}', 'c-1'),
           ('o-2', 'order', 'finish', '{"status": "completed"}', 'c-2');
INSERT INTO sync_call_attempts (context, operation, order_id) VALUES ('payment', 'charge', 'o-3');
"""


REPO = Path(__file__).resolve().parents[3]
SAMPLE_PLAN = REPO / "phases" / "examples" / "sample-plan.yaml"


@pytest.fixture
def pg(endpoints, fresh_database: str) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    engine = create_engine(endpoints.database_url(fresh_database))
    yield engine
    engine.dispose()


def cutover(engine: Engine, *args: str) -> subprocess.CompletedProcess[str]:
    """The real ``cutover`` command line on ``engine``'s database (the sample plan)."""
    env = {
        **os.environ,
        "LEGACY_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "CUTOVER_PLAN": str(SAMPLE_PLAN),
    }
    env.pop("CUTOVER_STATE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "phases.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )


def _schemas(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(text("SELECT nspname FROM pg_namespace"))}


def test_status_on_an_empty_database_refuses_naming_init_and_creates_nothing(
    pg: Engine,
) -> None:
    tables, schemas = _tables(pg), _schemas(pg)

    result = cutover(pg, "status")

    assert result.returncode == 14, result.stderr
    lines = [ln for ln in (result.stdout + result.stderr).splitlines() if ln.strip()]
    assert len(lines) == 1 and "run `cutover init`" in lines[0], lines
    assert "Traceback" not in result.stderr
    assert _tables(pg) == tables  # no new table
    assert _schemas(pg) == schemas and "cutover" not in schemas  # no cutover schema


def test_cli_init_upgrades_the_earlier_layout_then_status_reads_its_phase_and_modes(
    pg: Engine,
) -> None:
    with pg.begin() as conn:
        conn.exec_driver_sql(EARLIER_LAYOUT)

    init = cutover(pg, "init", "--json")
    status = cutover(pg, "status", "--json")

    assert init.returncode == 0, init.stderr
    (db,) = json.loads(init.stdout)["databases"]
    assert (db["schema"], db["from_revision"], db["to_revision"]) == (
        "cutover",
        None,
        head_revision(),
    )
    assert status.returncode == 0, status.stderr
    doc = json.loads(status.stdout)
    assert doc["phase"] == 3
    assert {c: m for c, m in doc["modes"].items() if c in ("payment", "order")} == {
        "payment": "dual",
        "order": "sync",
    }
    assert doc["last"]["to"] == 3 and doc["last"]["contexts"] == ["payment"]


def _tables(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT table_schema || '.' || table_name FROM information_schema.tables "
                "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
            )
        )
        return {r[0] for r in rows}


def test_upgrade_from_the_earlier_layout_keeps_phase_modes_and_audit_rows(pg: Engine) -> None:
    with pg.begin() as conn:
        conn.exec_driver_sql(EARLIER_LAYOUT)

    result = upgrade(pg)

    assert (result.from_revision, result.to_revision) == (None, head_revision())
    with pg.connect() as conn:
        phase = conn.execute(text("SELECT phase, plan_digest FROM cutover.phase_state")).one()
        modes = dict(conn.execute(text("SELECT context, mode FROM cutover.context_modes")).all())
        audit = conn.execute(
            text("SELECT id, to_phase, contexts, detail FROM cutover.audit ORDER BY id")
        ).all()
        verify = conn.execute(
            text("SELECT business_key, inconclusive FROM cutover.verify_results ORDER BY id")
        ).all()
        blocked = conn.execute(
            text("SELECT context, business_key FROM cutover.blocked_calls")
        ).all()
    assert tuple(phase) == (3, "abc123")
    assert modes == {"payment": "dual", "order": "sync"}
    assert [tuple(r) for r in audit] == [(1, 2, "", "{}"), (2, 3, "payment", '{"n": 1}')]
    assert [tuple(r) for r in verify] == [("o-1", True), ("o-2", False)]
    assert [tuple(r) for r in blocked] == [("payment", "o-3")]
    assert not {t for t in _tables(pg) if t.startswith("public.")}  # the old tables are gone
    with pg.begin() as conn:  # the moved audit keeps numbering after its rows, append-only
        conn.execute(
            text(
                "INSERT INTO cutover.audit (at, actor, action, from_phase, to_phase, contexts, "
                "detail) VALUES (now(), 'bob', 'gate', 3, 3, '', '{}')"
            )
        )
        assert conn.execute(text("SELECT max(id) FROM cutover.audit")).scalar() == 3
    with pytest.raises(Exception, match="append-only"), pg.begin() as conn:
        conn.execute(text("DELETE FROM cutover.audit"))
    assert upgrade(pg).changed is False  # idempotent


def test_unqualified_names_stay_in_public_for_a_role_named_like_the_schema(pg: Engine) -> None:
    assert pg.url.username == "cutover"  # the local stack's role: "$user" would be the schema
    upgrade(pg)
    pg.dispose()  # new sessions
    with pg.begin() as conn:
        conn.execute(text("CREATE TABLE orders (id int PRIMARY KEY)"))
        where = conn.execute(text("SELECT to_regclass('orders')::text")).scalar()
        schema = conn.execute(
            text("SELECT table_schema FROM information_schema.tables WHERE table_name = 'orders'")
        ).scalar()
    assert (where, schema) == ("orders", "public")


def test_upgrade_from_0001_keeps_verify_runs_and_blocked_calls_under_business_key(
    pg: Engine,
) -> None:
    from alembic import command

    from cutover.state.init import ALL_GROUPS, alembic_config, upgrade

    config = alembic_config("cutover", ALL_GROUPS)
    with pg.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.execute(
            text(
                "INSERT INTO cutover.verify_results (order_id, context, operation, result, "
                "correlation_id) VALUES ('o-1', 'order', 'finish', '{}', 'c-1')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO cutover.blocked_calls (context, operation, order_id) "
                "VALUES ('payment', 'charge', 'o-2')"
            )
        )

    result = upgrade(pg)

    assert (result.from_revision, result.to_revision) == ("0001", head_revision())
    with pg.connect() as conn:
        kept = conn.execute(text("SELECT business_key FROM cutover.verify_results")).all()
        blocked = conn.execute(text("SELECT business_key FROM cutover.blocked_calls")).all()
        indexes = {
            r[0]
            for r in conn.execute(
                text("SELECT indexname FROM pg_indexes WHERE tablename = 'verify_results'")
            )
        }
    assert [tuple(r) for r in kept] == [("o-1",)] and [tuple(r) for r in blocked] == [("o-2",)]
    assert "ix_verify_results_business_key" in indexes
