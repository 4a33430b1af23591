"""What a contracts directory must hold, checked from its files' text (pure: no disk).

A team's contracts are JSON Schema (2020-12) files named ``<type>.v<N>.json``; versions of
a type run 1..N; each file is a JSON object and a valid schema; each version reads the data
of the one before it (:mod:`events.compat`, ``backward`` mode) unless an upcaster brings the
old data forward or the newer file says ``"x-cutover-breaking": "<why>"``. Upcasters are
named in an optional ``upcasters.toml``::

    [upcasters."article.favorited"]
    1 = "myteam.contracts:favorited_v1_to_v2"   # v1 data -> v2

:func:`inspect_sources` returns every problem, each naming its file, so ``cutover events
check`` can list them all and :class:`~events.registry.ContractRegistry` can refuse with
the first.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from events.compat import check_compat

SCHEMA_FILE = re.compile(
    r"^(?P<type>[A-Za-z][A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]+)*)\.v(?P<version>[1-9][0-9]*)\.json$"
)
UPCASTERS_FILE = "upcasters.toml"
BREAKING_KEY = "x-cutover-breaking"
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
_REF = re.compile(r"^(?P<module>[A-Za-z_][\w.]*):(?P<attr>[A-Za-z_]\w*)$")


@dataclass(frozen=True, slots=True)
class ContractProblem:
    """Why one file of a contracts directory cannot be used (``file`` as the user names it)."""

    file: str
    reason: str
    kind: str = "invalid"
    """``invalid``, or ``breaking``: a version that cannot read the data of the one before."""

    def __str__(self) -> str:
        return f"{self.file}: {self.reason}"

    def to_dict(self) -> dict[str, str]:
        return {"file": self.file, "reason": self.reason, "kind": self.kind}


@dataclass(frozen=True, slots=True)
class Inspection:
    """The schemas found (``type -> version -> schema``), the upcaster names
    (``(type, from_version) -> module:function``) and every problem."""

    schemas: Mapping[str, Mapping[int, Mapping[str, Any]]]
    upcasters: Mapping[tuple[str, int], str]
    problems: tuple[ContractProblem, ...] = field(default=())


def file_name(event_type: str, version: int) -> str:
    """``<type>.v<version>.json``."""
    return f"{event_type}.v{version}.json"


def parse_json(name: str, text: str) -> tuple[Any, ContractProblem | None]:
    """The JSON value of ``text``, or the problem with its line and column."""
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        reason = f"not valid JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}"
        return None, ContractProblem(name, reason)


def schema_problem(name: str, schema: Any) -> ContractProblem | None:
    """Why ``schema`` is not a usable JSON Schema 2020-12 object (``None`` when it is)."""
    if not isinstance(schema, dict):
        return ContractProblem(name, "not a JSON Schema: the file must hold a JSON object")
    declared = schema.get("$schema")
    if declared is not None and str(declared).rstrip("#") != DRAFT_2020_12:
        return ContractProblem(name, f"$schema must be {DRAFT_2020_12} (got {declared!r})")
    remote = next(_remote_refs(schema), None)
    if remote is not None:
        return ContractProblem(name, f"$ref {remote!r} is not local (only #/... refs)")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/" + "/".join(str(p) for p in exc.path)
        return ContractProblem(name, f"not a valid JSON Schema at {where}: {exc.message}")
    return None


def _remote_refs(node: Any) -> Iterator[str]:
    if isinstance(node, list):
        for item in node:
            yield from _remote_refs(item)
    elif isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            yield ref
        for key, value in node.items():
            if key not in ("enum", "const", "default", "examples"):
                yield from _remote_refs(value)


def compat_problem(
    name: str, event_type: str, old: Mapping[str, Any], new: Mapping[str, Any], version: int
) -> ContractProblem | None:
    """Why version ``version`` cannot read the data of ``version - 1`` (``None`` when it can)."""
    report = check_compat(old, new, mode="backward")
    if report.compatible:
        return None
    first = report.breaking_changes[0]
    more = len(report.breaking_changes) - 1
    detail = f"{first.path} {first.kind} ({first.detail})" + (f" (+{more} more)" if more else "")
    return ContractProblem(
        name,
        f"not backward compatible with v{version - 1}: {detail}; declare an upcaster for "
        f'{event_type} v{version - 1} in {UPCASTERS_FILE} or set "{BREAKING_KEY}"',
        "breaking",
    )


def upcaster_names(
    text: str | None, origin: str
) -> tuple[dict[tuple[str, int], str], list[ContractProblem]]:
    """``(type, from_version) -> module:function`` from ``upcasters.toml`` text."""
    if text is None:
        return {}, []
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return {}, [ContractProblem(origin, f"not valid TOML: {exc}")]
    table = data.get("upcasters", {})
    unknown = sorted(set(data) - {"upcasters"})
    problems = [ContractProblem(origin, f"unknown table {k!r}") for k in unknown]
    names: dict[tuple[str, int], str] = {}
    if not isinstance(table, dict):
        return {}, [*problems, ContractProblem(origin, "[upcasters] must be a table")]
    for event_type, steps in table.items():
        if not isinstance(steps, dict):
            problems.append(ContractProblem(origin, f"upcasters.{event_type} must be a table"))
            continue
        for step, ref in steps.items():
            if not (str(step).isdigit() and isinstance(ref, str) and _REF.match(ref)):
                reason = f'upcasters.{event_type}.{step}: want `<from_version> = "module:function"`'
                problems.append(ContractProblem(origin, reason))
                continue
            names[(event_type, int(step))] = ref
    return names, problems


def inspect_sources(
    files: Mapping[str, str],
    *,
    prefix: str = "",
    upcasters_text: str | None = None,
    extra_upcasters: Mapping[tuple[str, int], str] | None = None,
) -> Inspection:
    """Check the files of a contracts directory (``name -> text``; ``prefix`` is how the
    directory is named in problems, e.g. ``contracts/``). ``extra_upcasters`` are steps
    registered in code (``(type, from_version) -> name``), counted like the file's."""
    problems: list[ContractProblem] = []
    schemas: dict[str, dict[int, Mapping[str, Any]]] = {}
    for name in sorted(files):
        match = SCHEMA_FILE.match(name)
        if not match:
            reason = "not named <type>.v<N>.json (e.g. article.favorited.v1.json)"
            problems.append(ContractProblem(prefix + name, reason))
            continue
        value, problem = parse_json(prefix + name, files[name])
        problem = problem or schema_problem(prefix + name, value)
        if problem:
            problems.append(problem)
            continue
        schemas.setdefault(match["type"], {})[int(match["version"])] = value
    upcasters, upcaster_problems = upcaster_names(upcasters_text, prefix + UPCASTERS_FILE)
    upcasters.update(extra_upcasters or {})
    problems += upcaster_problems
    problems += _version_problems(files, schemas, upcasters, prefix)
    return Inspection(schemas, upcasters, tuple(problems))


def _version_problems(
    files: Mapping[str, str],
    schemas: Mapping[str, Mapping[int, Mapping[str, Any]]],
    upcasters: Mapping[tuple[str, int], str],
    prefix: str,
) -> list[ContractProblem]:
    present: dict[str, list[int]] = {}
    for name in files:
        if match := SCHEMA_FILE.match(name):
            present.setdefault(match["type"], []).append(int(match["version"]))
    problems: list[ContractProblem] = []
    for event_type, versions in sorted(present.items()):
        gap = _gap_problem(event_type, sorted(versions), prefix)
        if gap:
            problems.append(gap)
            continue
        problems += _compat_problems(event_type, schemas.get(event_type, {}), upcasters, prefix)
    for event_type, step in sorted(upcasters):
        if step + 1 not in present.get(event_type, ()):
            reason = f"upcaster for {event_type} v{step} names no v{step + 1} schema"
            problems.append(ContractProblem(prefix + UPCASTERS_FILE, reason))
    return problems


def _gap_problem(event_type: str, versions: list[int], prefix: str) -> ContractProblem | None:
    gaps = sorted(set(range(1, versions[-1] + 1)) - set(versions))
    if not gaps:
        return None
    missing = ", ".join(f"v{v}" for v in gaps)
    reason = f"versions of {event_type} must run v1..v{versions[-1]}; missing {missing}"
    return ContractProblem(prefix + file_name(event_type, versions[-1]), reason)


def _compat_problems(
    event_type: str,
    versions: Mapping[int, Mapping[str, Any]],
    upcasters: Mapping[tuple[str, int], str],
    prefix: str,
) -> list[ContractProblem]:
    """Each version without an upcaster from, or a breaking mark on, its step must read the
    data of the one before (a version whose file failed is skipped: it has its problem)."""
    problems: list[ContractProblem] = []
    for v in sorted(versions):
        old, new = versions.get(v - 1), versions[v]
        if old is None or (event_type, v - 1) in upcasters or BREAKING_KEY in new:
            continue
        problem = compat_problem(prefix + file_name(event_type, v), event_type, old, new, v)
        if problem:
            problems.append(problem)
    return problems
