"""The idempotency keys of an application's command endpoints (``cutover.Idempotency``).

One row per (scope, key): the request's fingerprint, the holder's token and lease while it
runs, then the stored response (status, a subset of its headers, the body's bytes) until
``expires_at``. In the application's database, beside the modes and the verify results.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import JSONB

from cutover.state.naming import effective_schema

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLE = "idempotency_keys"
JSON_DOC = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    if not _has_app_tables():
        return
    schema = _schema()
    stamp = sa.DateTime(timezone=True)
    op.create_table(
        TABLE,
        sa.Column("scope", sa.String(100), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("response_status", sa.Integer),
        sa.Column("response_headers", JSON_DOC),
        sa.Column("response_body", sa.LargeBinary),
        sa.Column("created_at", stamp, nullable=False),
        sa.Column("locked_until", stamp, nullable=False),
        sa.Column("completed_at", stamp),
        sa.Column("expires_at", stamp, nullable=False),
        sa.CheckConstraint("status IN ('in-progress','completed')", name="ck_idempotency_status"),
        schema=schema,
    )
    op.create_index("ix_idempotency_keys_expires_at", TABLE, ["expires_at"], schema=schema)


def downgrade() -> None:
    if not _has_app_tables():
        return
    schema = _schema()
    op.drop_index("ix_idempotency_keys_expires_at", TABLE, schema=schema)
    op.drop_table(TABLE, schema=schema)


def _has_app_tables() -> bool:
    return "app" in tuple(context.config.attributes["groups"])


def _schema() -> str | None:
    schema = str(context.config.attributes["schema"])
    return effective_schema(op.get_context().dialect.name, schema)
