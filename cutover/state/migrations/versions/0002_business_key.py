"""The key of verify runs and blocked calls is ``business_key`` (up to 255 characters).

0001 named that column ``order_id`` (36 characters), after the bundled sample's key; a
team's key is a ticket number, an account id, anything. The column is renamed and widened
in place (rows kept); its indexes follow under their new names.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

from cutover.state.naming import effective_schema

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# table -> (old column, new column, nullable)
RENAMES: dict[str, tuple[str, str, bool]] = {
    "verify_results": ("order_id", "business_key", False),
    "blocked_calls": ("order_id", "business_key", True),
}
INDEXES: tuple[tuple[str, str], ...] = (
    ("ix_verify_results_order_id", "ix_verify_results_business_key"),
)


def upgrade() -> None:
    _rename(forward=True)


def downgrade() -> None:
    _rename(forward=False)


def _rename(*, forward: bool) -> None:
    attributes = context.config.attributes
    if "app" not in tuple(attributes["groups"]):
        return
    dialect = op.get_context().dialect.name
    schema = effective_schema(dialect, str(attributes["schema"]))
    for table, (old, new, nullable) in RENAMES.items():
        before, after = (old, new) if forward else (new, old)
        width = (sa.String(36), sa.String(255)) if forward else (sa.String(255), sa.String(36))
        with op.batch_alter_table(table, schema=schema) as batch:
            batch.alter_column(
                before,
                new_column_name=after,
                type_=width[1],
                existing_type=width[0],
                existing_nullable=nullable,
            )
    if dialect == "postgresql":
        prefix = f"{schema}." if schema else ""
        for old_index, new_index in INDEXES:
            src, dst = (old_index, new_index) if forward else (new_index, old_index)
            op.execute(f"ALTER INDEX {prefix}{src} RENAME TO {dst}")
