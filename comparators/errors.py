"""Errors raised by the comparators, all under :class:`ComparatorError`."""

from __future__ import annotations

from cutover_common.errors import CutoverError
from cutover_common.exit_codes import ExitCode


class ComparatorError(CutoverError):
    """Base of every error the comparators raise on purpose."""


class RuleError(ComparatorError):
    """Raised when a comparison rule (path, tolerance, unit, normaliser) is malformed."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(f"bad comparison rule {rule!r}: {reason}")
        self.rule = rule
        self.reason = reason


class ImportTargetError(ComparatorError):
    """Raised when a ``"module:attribute"`` reference (callable source, invariant,
    normaliser, payload builder) cannot be imported."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, target: str, reason: str) -> None:
        super().__init__(
            f"cannot load {target!r}: {reason}", hint="use the form 'package.module:name'"
        )
        self.target = target
        self.reason = reason


class UnsortedSourceError(ComparatorError):
    """Raised when a source that promised key order yields a key smaller than the previous one."""

    def __init__(self, side: str, previous: str, key: str) -> None:
        super().__init__(
            f"{side} source is not sorted by key: {key!r} came after {previous!r}",
            hint='order the query by the key (the comparators add ORDER BY key COLLATE "C")',
        )
        self.side = side
        self.previous = previous
        self.key = key


class SourceError(ComparatorError):
    """Raised when an outcome source cannot be read (bad SQL, lost connection, bad row).

    ``unreachable``: the database could not be read at all (connection refused or lost,
    server shutting down, out of resources), as opposed to a query that is wrong for the
    database it reads (a renamed column): a comparison gives the latter a failed verdict,
    the former stays an error (nothing was measured).
    """

    def __init__(self, side: str, reason: str, *, unreachable: bool = False) -> None:
        super().__init__(f"{side} source failed: {reason}")
        self.side = side
        self.reason = reason
        self.unreachable = unreachable


class WatermarksNotInitialised(ComparatorError):
    """Raised by ``compare watch --state-db-env`` when the database has no
    ``<schema>.compare_watermarks`` table: ``cutover init`` creates it (nothing here does)."""

    exit_code = ExitCode.NOT_INITIALISED

    def __init__(self, schema: str) -> None:
        self.schema = schema
        super().__init__(
            f"cutover state not initialised: no {schema}.compare_watermarks table; "
            "run `cutover init`"
        )


class UnknownInvariantError(ComparatorError):
    """Raised when the plan names an invariant that is neither built in nor importable."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, name: str) -> None:
        super().__init__(
            f"unknown invariant {name!r}",
            hint="use a built-in name or 'module:function' for a custom one",
        )
        self.name = name


class PlanError(ComparatorError):
    """Raised when the plan's comparison section is missing or invalid for a context."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, context: str, reason: str) -> None:
        super().__init__(f"plan context {context!r}: {reason}")
        self.context = context
        self.reason = reason


class PartitionError(ComparatorError):
    """Raised for a malformed ``--partition i/n`` value."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, text: str) -> None:
        super().__init__(f"bad partition {text!r}", hint="use i/n with 0 <= i < n, e.g. 0/4")
        self.text = text


class MergeError(ComparatorError):
    """Raised when results that cannot be merged (different sample limits/buckets) are merged."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"cannot merge comparison results: {reason}")
        self.reason = reason
