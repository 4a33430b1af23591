"""The functions behind ``cutover events``: each takes an output stream, returns an exit code.

These read the files the user names (the CLI's edge); the rest of the package
stays free of I/O.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

from cutover_common.cli import echo_json
from cutover_common.exit_codes import ExitCode
from events.codec import decode
from events.compat import CompatMode, CompatReport, check_compat
from events.envelope import Envelope
from events.errors import ContractsNotNamed, DecodeError, EventsError, SchemaFileError
from events.registry import Contracts

_REF = re.compile(r"^(?P<type>[A-Za-z][\w.]*)[@:]v?(?P<version>[0-9]+)$")


NO_CONTRACTS_HINT = "no contracts directory: give --contracts DIR or a --plan with contracts.dir"


def list_no_contracts(out: TextIO, *, as_json: bool = False) -> int:
    """``cutover events list`` with no contracts directory: nothing to list, and the hint."""
    if as_json:
        echo_json({"contracts": None, "types": [], "hint": NO_CONTRACTS_HINT}, stream=out)
    else:
        out.write(NO_CONTRACTS_HINT + "\n")
    return ExitCode.OK


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """The verdict on one envelope of a validated file."""

    index: int
    id: str | None
    type: str | None
    version: int | None
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "id": self.id,
            "type": self.type,
            "version": self.version,
            "ok": self.ok,
            "detail": self.detail,
        }


def read_envelopes(text: str) -> list[Any]:
    """A JSON object, a JSON array of objects, or JSON lines, as a list of raw items."""
    stripped = text.strip()
    try:
        whole = json.loads(stripped)
    except ValueError:
        return [line for line in stripped.splitlines() if line.strip()]
    return whole if isinstance(whole, list) else [whole]


def validate_item(index: int, item: Any, contracts: Contracts) -> ValidationResult:
    """Decode one envelope (upcast + validate against ``contracts``) and say what happened."""
    try:
        envelope = Envelope.from_json(item) if isinstance(item, str) else Envelope.from_dict(item)
    except (DecodeError, AttributeError) as exc:
        return ValidationResult(index, None, None, None, False, str(exc))
    try:
        decoded = decode(envelope, contracts)
    except EventsError as exc:
        return ValidationResult(
            index, envelope.id, envelope.type, envelope.version, False, str(exc)
        )
    note = (
        f"ok (upcast v{decoded.upcast_from} -> v{decoded.envelope.version})"
        if decoded.was_upcast
        else "ok"
    )
    return ValidationResult(index, envelope.id, envelope.type, envelope.version, True, note)


def validate_file(path: Path, contracts: Contracts, out: TextIO, *, as_json: bool = False) -> int:
    """Validate every envelope in ``path`` against ``contracts``; exit code 2 (invalid input)
    when any is invalid."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SchemaFileError(str(path), f"cannot read: {exc.strerror}") from exc
    results = [validate_item(i, it, contracts) for i, it in enumerate(read_envelopes(text))]
    invalid = sum(not r.ok for r in results)
    if as_json:
        echo_json(
            {"file": str(path), "invalid": invalid, "results": [r.to_dict() for r in results]},
            stream=out,
        )
    else:
        table = Table(title=f"{path}: {len(results) - invalid} valid, {invalid} invalid")
        for col in ("#", "type", "version", "id", "result"):
            table.add_column(col)
        for r in results:
            mark = "[green]" if r.ok else "[red]"
            table.add_row(
                str(r.index), r.type or "-", str(r.version or "-"), r.id or "-", mark + r.detail
            )
        Console(file=out, width=160).print(table)
    return ExitCode.INVALID_INPUT if invalid or not results else ExitCode.OK


def resolve_schema(ref: str, contracts: Contracts | None = None) -> tuple[str, dict[str, Any]]:
    """A schema from a file path, or a ``TYPE@VERSION`` reference into ``contracts`` (raises
    :class:`ContractsNotNamed` for a reference when there are none)."""
    path = Path(ref)
    if path.is_file():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SchemaFileError(ref, str(exc)) from exc
        if not isinstance(loaded, dict):
            raise SchemaFileError(ref, "not a JSON object")
        return ref, loaded
    match = _REF.match(ref)
    if not match:
        raise SchemaFileError(
            ref, "neither a file nor a TYPE@VERSION reference (e.g. order.created@1)"
        )
    if contracts is None:
        raise ContractsNotNamed()
    return ref, dict(contracts.schema(match["type"], int(match["version"])))


def check_compat_refs(
    old_ref: str,
    new_ref: str,
    out: TextIO,
    *,
    contracts: Contracts | None = None,
    mode: CompatMode = "full",
    as_json: bool = False,
) -> int:
    """Compare two schemas (files, or ``TYPE@VERSION`` in ``contracts``); exit code 4 (fail)
    when the new one breaks the old under ``mode``."""
    old_name, old = resolve_schema(old_ref, contracts)
    new_name, new = resolve_schema(new_ref, contracts)
    report = check_compat(old, new, mode=mode, old_name=old_name, new_name=new_name)
    if as_json:
        echo_json(report.to_dict(), stream=out)
    else:
        print_report(report, out)
    return ExitCode.OK if report.compatible else ExitCode.FAIL


def print_report(report: CompatReport, out: TextIO) -> None:
    verdict = "[green]compatible" if report.compatible else "[red]BREAKING"
    table = Table(title=f"{report.old} -> {report.new} ({report.mode}): {verdict}")
    for col in ("path", "change", "detail", "breaks old consumers", "breaks old data"):
        table.add_column(col)
    for c in report.changes:
        style = "[red]" if c.breaking(report.mode) else ""
        table.add_row(
            style + c.path, c.kind, c.detail, _yes(c.breaks_forward), _yes(c.breaks_backward)
        )
    Console(file=out, width=160).print(table)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
