"""Errors of :mod:`cutover.state` (cutover's own tables)."""

from __future__ import annotations

from cutover_common.errors import CutoverError
from cutover_common.exit_codes import ExitCode


class StateError(CutoverError):
    """Base of the errors raised by :mod:`cutover.state`."""


class StateNotInitialised(StateError):
    """Raised by every command that reads cutover's state when its tables are missing or
    older than this cutover (``cutover init`` creates or upgrades them). Nothing is created.

    ``database`` says which (``application`` or ``state``), ``schema`` where they were
    looked for, ``revision`` the revision found (``None``: none).
    """

    exit_code = ExitCode.NOT_INITIALISED

    def __init__(self, database: str, schema: str | None, revision: str | None = None) -> None:
        self.database = database
        self.schema = schema
        self.revision = revision
        where = (
            f"schema {schema!r} of the {database} database" if schema else f"{database} database"
        )
        what = (
            f"is at revision {revision}, older than this cutover"
            if revision
            else "has no cutover tables"
        )
        super().__init__(f"cutover state not initialised: {where} {what}; run `cutover init`")


class StateUpgradeFailed(StateError):
    """Raised by ``cutover init`` when alembic's upgrade fails (the transaction is rolled back).
    ``reason`` is the database's first line, never a URL."""

    exit_code = ExitCode.ERROR

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"cutover init failed: {reason}")
