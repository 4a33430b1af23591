"""Event contracts by registry: a team's directory of JSON Schemas.

:class:`Contracts` is the port the shadow runtime and the phase gates call;
:class:`ContractRegistry` implements it for a contracts directory
(:meth:`ContractRegistry.load`, the only I/O here; everything after loading is pure) or for
file texts (:meth:`ContractRegistry.from_sources`, e.g. schemas generated from Python
contracts by :func:`events.structs.schema_files`).

Each schema is compiled once (:mod:`events.compiled`).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from events.compiled import compile_schema
from events.contract_files import (
    UPCASTERS_FILE,
    ContractProblem,
    Inspection,
    inspect_sources,
)
from events.errors import (
    ContractDirectoryInvalid,
    SchemaValidationError,
    UnknownEventTypeError,
    UpcastError,
)
from events.upcasting import Upcaster, UpcasterRegistry


class Contracts(Protocol):
    """The event contracts a consumer or a gate checks events against."""

    @property
    def source(self) -> str:
        """Where the contracts come from (a directory)."""
        ...

    @property
    def types(self) -> frozenset[str]: ...

    def versions(self, event_type: str) -> tuple[int, ...]: ...

    def latest(self, event_type: str) -> int: ...

    def schema(self, event_type: str, version: int) -> Mapping[str, Any]: ...

    def validate(
        self, event_type: str, payload: Mapping[str, Any], version: int | None = None
    ) -> None: ...

    def upcast(
        self, event_type: str, version: int, payload: Mapping[str, Any]
    ) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class DirectoryText:
    """A contracts directory as read from disk: its JSON files' text and ``upcasters.toml``."""

    source: str
    files: Mapping[str, str]
    upcasters_text: str | None

    @property
    def prefix(self) -> str:
        return f"{self.source}/"


def read_directory(path: str | Path, *, missing_ok: bool = False) -> DirectoryText:
    """The text of the contracts directory ``path`` (every ``*.json`` and ``upcasters.toml``);
    raises :class:`ContractDirectoryInvalid` when it cannot be read (``missing_ok``: a
    directory that does not exist yet reads as empty)."""
    directory = Path(path)
    if missing_ok and not directory.exists():
        return DirectoryText(str(directory), {}, None)
    if not directory.is_dir():
        raise ContractDirectoryInvalid(
            [ContractProblem(str(directory), "not a directory of contracts")]
        )
    files: dict[str, str] = {}
    problems: list[ContractProblem] = []
    for entry in sorted([*directory.glob("*.json"), directory / UPCASTERS_FILE]):
        if not entry.is_file():
            continue
        try:
            files[entry.name] = entry.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(ContractProblem(str(entry), f"cannot read: {exc}"))
    if problems:
        raise ContractDirectoryInvalid(problems)
    upcasters_text = files.pop(UPCASTERS_FILE, None)
    return DirectoryText(str(directory), files, upcasters_text)


class ContractRegistry:
    """Every version of every event type of one contracts source, compiled for validation.

    Build it with :meth:`load` (a directory) or :meth:`from_sources` (file texts); both
    raise :class:`ContractDirectoryInvalid` naming the first bad file.
    """

    def __init__(
        self,
        schemas: Mapping[str, Mapping[int, Mapping[str, Any]]],
        upcasters: UpcasterRegistry,
        source: str,
    ) -> None:
        self._schemas = {t: dict(sorted(v.items())) for t, v in schemas.items()}
        self._checks = {
            (t, v): compile_schema(s)
            for t, versions in schemas.items()
            for v, s in versions.items()
        }
        self._latest = {t: max(v) for t, v in self._schemas.items()}
        self._upcasters = upcasters
        self._source = source

    @classmethod
    def load(cls, path: str | Path) -> ContractRegistry:
        """Read the contracts directory ``path`` (``<type>.v<N>.json`` files and an optional
        ``upcasters.toml``), check it and compile every schema."""
        directory = read_directory(path)
        return cls.from_sources(
            directory.files,
            prefix=directory.prefix,
            upcasters_text=directory.upcasters_text,
            source=directory.source,
        )

    @classmethod
    def from_sources(
        cls,
        files: Mapping[str, str],
        *,
        prefix: str = "",
        upcasters_text: str | None = None,
        upcasters: UpcasterRegistry | None = None,
        source: str = "<contracts>",
    ) -> ContractRegistry:
        """A registry from file texts (``name -> text``). Upcasters come from
        ``upcasters_text`` (``upcasters.toml``), or ready made in ``upcasters``."""
        steps = {(t, v): "<registered>" for t, v in upcasters.steps()} if upcasters else None
        found = inspect_sources(
            files, prefix=prefix, upcasters_text=upcasters_text, extra_upcasters=steps
        )
        if found.problems:
            raise ContractDirectoryInvalid(list(found.problems))
        registry = upcasters or _import_upcasters(found, prefix + UPCASTERS_FILE)
        return cls(found.schemas, registry, source)

    @property
    def source(self) -> str:
        return self._source

    @property
    def types(self) -> frozenset[str]:
        return frozenset(self._schemas)

    def versions(self, event_type: str) -> tuple[int, ...]:
        """Every version of ``event_type``, oldest first; raises :class:`UnknownEventTypeError`."""
        return tuple(self._known(event_type))

    def latest(self, event_type: str) -> int:
        self._known(event_type)
        return self._latest[event_type]

    def schema(self, event_type: str, version: int) -> Mapping[str, Any]:
        try:
            return self._known(event_type)[version]
        except KeyError:
            raise UnknownEventTypeError(event_type, version) from None

    def upcaster_steps(self, event_type: str) -> tuple[int, ...]:
        """The versions of ``event_type`` an upcaster brings to the next one."""
        return tuple(v for t, v in self._upcasters.steps() if t == event_type)

    def errors(self, event_type: str, payload: Any, version: int | None = None) -> list[str]:
        """The violations of ``payload`` (``/path: reason`` lines; empty when valid)."""
        wanted = self.latest(event_type) if version is None else version
        check = self._checks.get((event_type, wanted))
        if check is None:
            raise UnknownEventTypeError(event_type, wanted)
        return check(payload)

    def validate(
        self, event_type: str, payload: Mapping[str, Any], version: int | None = None
    ) -> None:
        """Raise :class:`UnknownEventTypeError` or :class:`SchemaValidationError` (one line:
        type, version, JSON path, reason) unless ``payload`` fits; ``None`` is the latest."""
        errors = self.errors(event_type, payload, version)
        if errors:
            wanted = self.latest(event_type) if version is None else version
            raise SchemaValidationError(event_type, wanted, errors, payload)

    def upcast(
        self, event_type: str, version: int, payload: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        """``payload`` written at ``version`` brought to the latest version (unchanged when it
        is the latest) by the upcasters; a step without one was checked backward compatible
        (or marked breaking) and keeps the data. Raises :class:`~events.errors.UpcastError`."""
        latest = self.latest(event_type)
        if version == latest:
            return payload
        if not 1 <= version < latest:
            raise UpcastError(event_type, version, f"not a version before v{latest}")
        current = dict(payload)
        for step in range(version, latest):  # a step with no upcaster reads the old data as is
            if self._upcasters.has_step(event_type, step):
                current = self._upcasters.upcast(event_type, step, current, step + 1)
        return current

    def _known(self, event_type: str) -> Mapping[int, Mapping[str, Any]]:
        try:
            return self._schemas[event_type]
        except KeyError:
            raise UnknownEventTypeError(event_type) from None


def _import_upcasters(found: Inspection, origin: str) -> UpcasterRegistry:
    registry = UpcasterRegistry()
    problems: list[ContractProblem] = []
    for (event_type, step), ref in sorted(found.upcasters.items()):
        module_name, attr = ref.split(":")
        try:
            fn: Upcaster = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            problems.append(ContractProblem(origin, f"cannot import upcaster {ref}: {exc}"))
            continue
        if not callable(fn):
            problems.append(ContractProblem(origin, f"upcaster {ref} is not callable"))
            continue
        registry.register(event_type, step, fn)
    if problems:
        raise ContractDirectoryInvalid(problems)
    return registry


def schema_reasons(contracts: Contracts, event_type: str, payload: Any) -> list[str]:
    """Why ``payload`` fits no version of ``event_type`` (empty when one fits): the gate's
    view of an event seen on a topic, written at whichever version."""
    if event_type not in contracts.types:
        return [f"{event_type}: no registered schema in {contracts.source}"]
    versions = contracts.versions(event_type)
    first: str | None = None
    for version in reversed(versions):
        try:
            contracts.validate(event_type, payload, version)
        except SchemaValidationError as exc:
            first = first or f"{event_type} v{version}: {exc.errors[0]}"
            continue
        return []
    return [first or f"{event_type}: does not fit"]
