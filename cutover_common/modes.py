"""Migration modes per bounded context, and the table that holds them.

The table is the contract between ``phases`` (which writes it when an operator
advances or rolls back) and ``legacy_app`` (which reads it at request time,
briefly cached), so neither imports the other.
"""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    """How a bounded context runs (see DESIGN.md, "Migration modes")."""

    SYNC = "sync"
    DUAL = "dual"
    NAIVE_DUAL = "naive-dual"
    ASYNC = "async"
    EVENTS_ONLY = "events-only"


# The contexts of the bundled sample monolith.
SAMPLE_CONTEXTS: tuple[str, ...] = ("order", "inventory", "payment", "shipping", "email")

MODES_TABLE = "cutover_context_modes"

MODES_DDL = f"""
CREATE TABLE IF NOT EXISTS {MODES_TABLE} (
    context     varchar(100) PRIMARY KEY,
    mode        varchar(20)  NOT NULL CHECK (mode IN ('sync','dual','naive-dual','async','events-only')),
    updated_at  timestamptz  NOT NULL DEFAULT now(),
    updated_by  varchar(200) NOT NULL DEFAULT 'system'
)
"""
