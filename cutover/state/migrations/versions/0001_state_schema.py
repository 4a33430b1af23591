"""cutover's tables in their own schema, the earlier layout's rows moved in.

The earlier layout kept ``cutover_context_modes``, ``cutover_phase_state``,
``cutover_transition_in_progress``, ``cutover_lock``, ``cutover_audit``,
``cutover_compare_watermarks``, ``sync_verify_results`` and ``sync_call_attempts`` in the
database's default schema. When one of them exists (online upgrade only), its rows are copied
into the new table of this database's groups and the old table is dropped, in the same
transaction; ``sync_verify_results`` from before its ``inconclusive`` column gets it computed.

Revision ID: 0001
Revises:
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import JSONB

from cutover.state.naming import effective_schema, qualified

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

NOW = sa.text("CURRENT_TIMESTAMP")
MODE_CHECK = "mode IN ('sync','dual','naive-dual','async','events-only')"
JSON_DOC = sa.JSON().with_variant(JSONB(), "postgresql")

# earlier table -> (new table, group)
EARLIER: dict[str, tuple[str, str]] = {
    "cutover_context_modes": ("context_modes", "app"),
    "sync_verify_results": ("verify_results", "app"),
    "sync_call_attempts": ("blocked_calls", "app"),
    "cutover_phase_state": ("phase_state", "state"),
    "cutover_transition_in_progress": ("transition_in_progress", "state"),
    "cutover_lock": ("transition_lock", "state"),
    "cutover_audit": ("audit", "state"),
    "cutover_compare_watermarks": ("compare_watermarks", "state"),
}
SERIAL_IDS = ("verify_results", "blocked_calls", "audit")
# NOT NULL here, nullable (or without a default) in the earlier layout: what a NULL becomes
FILL: dict[str, str] = {
    "recorded_at": "CURRENT_TIMESTAMP",
    "attempted_at": "CURRENT_TIMESTAMP",
    "updated_at": "CURRENT_TIMESTAMP",
    "updated_by": "'system'",
    "contexts": "''",
    "detail": "'{}'",
    "done_moves": "0",
}
VERIFY_INCONCLUSIVE = (
    "(context = 'order' AND operation = 'finish' "
    "AND CAST(result AS TEXT) LIKE '%\"inconclusive\": true%')"
)


def upgrade() -> None:
    attributes = context.config.attributes
    groups = tuple(attributes["groups"])
    dialect = op.get_context().dialect.name
    schema = effective_schema(dialect, str(attributes["schema"]))
    if "app" in groups:
        _app_tables(schema)
    if "state" in groups:
        _state_tables(schema, dialect)
    if not context.is_offline_mode():
        _move_earlier_layout(schema, groups, dialect)


def _app_tables(schema: str | None) -> None:
    op.create_table(
        "context_modes",
        sa.Column("context", sa.String(100), primary_key=True),
        sa.Column("mode", sa.String(20), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("updated_by", sa.String(200), nullable=False, server_default="system"),
        sa.CheckConstraint(MODE_CHECK, name="ck_context_mode"),
        schema=schema,
    )
    op.create_table(
        "instance_heartbeats",
        sa.Column("instance_id", sa.String(200), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("modes", JSON_DOC, nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        schema=schema,
    )
    op.create_table(
        "verify_results",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("order_id", sa.String(36), nullable=False),
        sa.Column("context", sa.String(40), nullable=False),
        sa.Column("operation", sa.String(40), nullable=False),
        sa.Column("result", JSON_DOC, nullable=False),
        sa.Column("correlation_id", sa.String(255), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("inconclusive", sa.Boolean, nullable=False, server_default=sa.false()),
        schema=schema,
    )
    op.create_index("ix_verify_results_order_id", "verify_results", ["order_id"], schema=schema)
    op.create_index(
        "ix_verify_results_inconclusive", "verify_results", ["order_id"], schema=schema,
        postgresql_where=sa.text("inconclusive"), sqlite_where=sa.text("inconclusive"),
    )  # fmt: skip
    op.create_table(
        "blocked_calls",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("context", sa.String(40), nullable=False),
        sa.Column("operation", sa.String(40), nullable=False),
        sa.Column("order_id", sa.String(36)),
        sa.Column("correlation_id", sa.String(255)),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        schema=schema,
    )
    op.create_index("ix_blocked_calls_context", "blocked_calls", ["context"], schema=schema)


def _state_tables(schema: str | None, dialect: str) -> None:
    op.create_table(
        "phase_state",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("phase", sa.Integer, nullable=False),
        sa.Column("plan_digest", sa.String(64)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        schema=schema,
    )
    op.create_table(
        "transition_in_progress",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("from_phase", sa.Integer, nullable=False),
        sa.Column("to_phase", sa.Integer, nullable=False),
        sa.Column("plan_json", sa.Text, nullable=False),
        sa.Column("done_moves", sa.Integer, nullable=False),
        sa.Column("stage", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    op.create_table(
        "transition_lock",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("from_phase", sa.Integer, nullable=False),
        sa.Column("to_phase", sa.Integer, nullable=False),
        sa.Column("contexts", sa.String(1000), nullable=False),
        sa.Column("verdict", sa.String(20)),
        sa.Column("evidence_path", sa.String(1000)),
        sa.Column("evidence_sha256", sa.String(64)),
        sa.Column("detail", sa.Text, nullable=False),
        schema=schema,
    )
    op.create_table(
        "compare_watermarks",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("watermark", sa.DateTime(timezone=True)),
        sa.Column("state", JSON_DOC, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        schema=schema,
    )
    for ddl in _append_only(schema, dialect):
        op.execute(ddl)


def _append_only(schema: str | None, dialect: str) -> list[str]:
    audit = qualified("audit", schema)
    if dialect == "postgresql":
        function = qualified("audit_append_only", schema)
        return [
            f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'cutover audit is append-only'; END $$ LANGUAGE plpgsql",
            f"CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON {audit} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}()",
        ]
    return [
        f"CREATE TRIGGER audit_no_{what} BEFORE {what.upper()} ON {audit} "
        "BEGIN SELECT RAISE(ABORT, 'cutover audit is append-only'); END"
        for what in ("update", "delete")
    ]


def _move_earlier_layout(schema: str | None, groups: tuple[str, ...], dialect: str) -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    for old, (new, group) in EARLIER.items():
        if group not in groups or not inspector.has_table(old):
            continue
        old_columns = {c["name"] for c in inspector.get_columns(old)}
        new_columns = [c["name"] for c in inspector.get_columns(new, schema=schema)]
        copied = [c for c in new_columns if c in old_columns]
        values = [f"COALESCE({c}, {FILL[c]})" if c in FILL else c for c in copied]
        if new == "verify_results" and "inconclusive" not in old_columns:
            copied.append("inconclusive")
            values.append(VERIFY_INCONCLUSIVE)
        target = qualified(new, schema)
        bind.execute(
            sa.text(
                f"INSERT INTO {target} ({', '.join(copied)}) SELECT {', '.join(values)} FROM {old}"
            )
        )
        op.drop_table(old)
        if dialect == "postgresql" and new in SERIAL_IDS:
            bind.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{target}', 'id'), "
                    f"COALESCE(max(id), 0) + 1, false) FROM {target}"
                )
            )
    if dialect == "postgresql" and "state" in groups:
        op.execute("DROP FUNCTION IF EXISTS cutover_audit_append_only()")
