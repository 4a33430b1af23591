"""The functions behind ``cutover events list|check|register --contracts DIR``.

Each takes the contracts directory and an output stream and returns an exit code; they
read and write the directory (the CLI's edge), the checks themselves are pure
(:mod:`events.contract_files`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

from cutover_common.cli import echo_json
from cutover_common.exit_codes import ExitCode
from events.compat import check_compat
from events.contract_files import (
    BREAKING_KEY,
    SCHEMA_FILE,
    ContractProblem,
    file_name,
    parse_json,
    schema_problem,
)
from events.errors import ContractDirectoryInvalid, ContractIncompatible, SchemaFileError
from events.registry import ContractRegistry, read_directory

ALLOWED_BREAKING = "registered with --allow-breaking"


def list_contracts(directory: Path, out: TextIO, *, as_json: bool = False) -> int:
    """Print every type of the contracts directory: versions, latest, upcaster steps."""
    registry = ContractRegistry.load(directory)
    rows: list[dict[str, Any]] = [
        {
            "type": t,
            "versions": list(registry.versions(t)),
            "latest": registry.latest(t),
            "schema": file_name(t, registry.latest(t)),
            "upcasters": [f"v{v}->v{v + 1}" for v in registry.upcaster_steps(t)],
        }
        for t in sorted(registry.types)
    ]
    if as_json:
        echo_json({"contracts": str(directory), "types": rows}, stream=out)
        return ExitCode.OK
    table = Table(title=f"contracts in {directory}")
    for col in ("type", "latest", "versions", "upcasters"):
        table.add_column(col)
    for row in rows:
        versions = ", ".join(f"v{v}" for v in row["versions"])
        table.add_row(row["type"], f"v{row['latest']}", versions, ", ".join(row["upcasters"]))
    Console(file=out, width=120).print(table)
    return ExitCode.OK


def directory_problems(directory: Path) -> tuple[list[ContractProblem], ContractRegistry | None]:
    """Every problem of the contracts directory (empty, with the registry, when it is valid)."""
    try:
        return [], ContractRegistry.load(directory)
    except ContractDirectoryInvalid as exc:
        return list(exc.problems), None


def check_contracts(directory: Path, out: TextIO, *, as_json: bool = False) -> int:
    """Check the whole directory; exit 2 (invalid input) with ``file: reason`` per problem."""
    problems, registry = directory_problems(directory)
    types = {t: list(registry.versions(t)) for t in sorted(registry.types)} if registry else {}
    if as_json:
        echo_json(
            {
                "contracts": str(directory),
                "valid": not problems,
                "problems": [p.to_dict() for p in problems],
                "types": types,
            },
            stream=out,
        )
    elif problems:
        for problem in problems:
            out.write(f"{problem}\n")
    else:
        schemas = sum(len(v) for v in types.values())
        out.write(f"{directory}: {len(types)} types, {schemas} schemas, all valid\n")
    out.flush()
    return ExitCode.INVALID_INPUT if problems else ExitCode.OK


@dataclass(frozen=True, slots=True)
class Registration:
    """What ``register`` did (or, with ``--dry-run``, would do)."""

    event_type: str
    version: int
    source: str
    target: str
    breaking: bool
    dry_run: bool
    changes: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.event_type,
            "version": self.version,
            "source": self.source,
            "file": self.target,
            "breaking": self.breaking,
            "dry_run": self.dry_run,
            "changes": list(self.changes),
        }


def _read_schema(path: Path) -> tuple[str, dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaFileError(str(path), f"cannot read: {exc}") from exc
    schema, problem = parse_json(str(path), text)
    problem = problem or schema_problem(str(path), schema)
    if problem:
        raise SchemaFileError(str(path), problem.reason)
    return text, schema


def _type_of(path: Path, event_type: str | None) -> tuple[str, int | None]:
    match = SCHEMA_FILE.match(path.name)
    if event_type:
        return event_type, int(match["version"]) if match and match["type"] == event_type else None
    if match:
        return match["type"], int(match["version"])
    if path.name.endswith(".json") and SCHEMA_FILE.match(path.name[:-5] + ".v1.json"):
        return path.name[:-5], None
    raise SchemaFileError(str(path), "name it <type>.json or <type>.v<N>.json, or give --type")


def plan_registration(
    file: Path, directory: Path, *, event_type: str | None = None, allow_breaking: bool = False
) -> tuple[Registration, str]:
    """Check ``file`` as the next version of its type in ``directory`` (the whole directory
    with it must be valid); the registration and the text to write. Raises
    :class:`ContractIncompatible` when it breaks the latest version (unless
    ``allow_breaking``), :class:`ContractDirectoryInvalid` for any other problem."""
    text, schema = _read_schema(file)
    kind, named_version = _type_of(file, event_type)
    current = read_directory(directory, missing_ok=True)
    version = 1 + max(
        (
            int(m["version"])
            for n in current.files
            if (m := SCHEMA_FILE.match(n)) and m["type"] == kind
        ),
        default=0,
    )
    if named_version is not None and named_version != version:
        reason = f"is v{named_version} but the next version of {kind} is v{version}"
        raise SchemaFileError(str(file), reason)
    name = file_name(kind, version)
    target = f"{current.prefix}{name}"
    files = {**current.files, name: text}
    try:
        ContractRegistry.from_sources(
            files, prefix=current.prefix, upcasters_text=current.upcasters_text
        )
        breaking = False
    except ContractDirectoryInvalid as exc:
        breaks = [p for p in exc.problems if p.kind == "breaking" and p.file == target]
        others = [p for p in exc.problems if p not in breaks]
        if others:
            raise ContractDirectoryInvalid(others) from None
        if not allow_breaking:
            raise ContractIncompatible(target, breaks[0].reason) from None
        text = json.dumps({**schema, BREAKING_KEY: ALLOWED_BREAKING}, indent=2) + "\n"
        breaking = True
    changes: tuple[dict[str, Any], ...] = ()
    if version > 1:
        old = json.loads(current.files[file_name(kind, version - 1)])
        report = check_compat(old, schema, mode="backward")
        changes = tuple(c.to_dict("backward") for c in report.changes)
    return Registration(kind, version, str(file), target, breaking, False, changes), text


def register_contract(
    file: Path,
    directory: Path,
    out: TextIO,
    *,
    event_type: str | None = None,
    allow_breaking: bool = False,
    dry_run: bool = False,
    as_json: bool = False,
) -> int:
    """Add ``file`` as the next version of its type; see :func:`plan_registration`."""
    registration, text = plan_registration(
        file, directory, event_type=event_type, allow_breaking=allow_breaking
    )
    if dry_run:
        registration = replace(registration, dry_run=True)
    else:
        directory.mkdir(parents=True, exist_ok=True)
        Path(registration.target).write_text(text, encoding="utf-8")
    if as_json:
        echo_json(registration.to_dict(), stream=out)
        return ExitCode.OK
    verb = "would register" if dry_run else "registered"
    note = " (breaking, allowed)" if registration.breaking else ""
    out.write(
        f"{verb} {registration.event_type} v{registration.version} as {registration.target}{note}\n"
    )
    out.flush()
    return ExitCode.OK
