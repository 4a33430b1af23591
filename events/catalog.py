"""The catalogue of every event, integration event and command type, and its JSON Schemas.

Schemas are package data (``events/schemas/<type>.v<version>.json``), read with
:mod:`importlib.resources` — the only I/O this package does. Validators are
built once per type and version.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

from jsonschema import Draft202012Validator

from events.commands import COMMANDS
from events.domain import DOMAIN_EVENTS
from events.errors import SchemaFileError, SchemaValidationError, UnknownEventTypeError
from events.integration import INTEGRATION_EVENTS

Kind = Literal["event", "integration", "command"]
PayloadClass = type[Any]
SCHEMA_PACKAGE = "events.schemas"
_SCHEMA_FILE = re.compile(r"^(?P<type>.+)\.v(?P<version>[0-9]+)\.json$")


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One type in the catalogue: its kind, payload class, current version and routing."""

    type: str
    kind: Kind
    payload_cls: PayloadClass
    version: int
    aggregate_type: str

    @property
    def versions(self) -> tuple[int, ...]:
        """Every version with a packaged schema, oldest first."""
        return schema_versions().get(self.type, ())


def _specs() -> dict[str, EventSpec]:
    groups: tuple[tuple[Kind, tuple[type[Any], ...]], ...] = (
        ("event", DOMAIN_EVENTS),
        ("integration", INTEGRATION_EVENTS),
        ("command", COMMANDS),
    )
    return {
        cls.type: EventSpec(cls.type, kind, cls, cls.version, cls.aggregate_type)
        for kind, classes in groups
        for cls in classes
    }


CATALOG: dict[str, EventSpec] = _specs()


def get_spec(event_type: str) -> EventSpec:
    """The catalogue entry of ``event_type``; raises :class:`UnknownEventTypeError`."""
    try:
        return CATALOG[event_type]
    except KeyError:
        raise UnknownEventTypeError(event_type) from None


def is_command(event_type: str) -> bool:
    """True for command types (``CreateOrder``), false for events (``order.created``)."""
    return get_spec(event_type).kind == "command"


@cache
def schema_versions() -> dict[str, tuple[int, ...]]:
    """Packaged schema versions per type."""
    found: dict[str, list[int]] = {}
    for entry in resources.files(SCHEMA_PACKAGE).iterdir():
        match = _SCHEMA_FILE.match(entry.name)
        if match:
            found.setdefault(match["type"], []).append(int(match["version"]))
    return {t: tuple(sorted(v)) for t, v in found.items()}


def schema_file_name(event_type: str, version: int) -> str:
    return f"{event_type}.v{version}.json"


@cache
def load_schema(event_type: str, version: int) -> dict[str, Any]:
    """The packaged JSON Schema of ``event_type`` at ``version``."""
    if version not in schema_versions().get(event_type, ()):
        raise UnknownEventTypeError(event_type, version)
    name = schema_file_name(event_type, version)
    try:
        schema: dict[str, Any] = json.loads(
            resources.files(SCHEMA_PACKAGE).joinpath(name).read_text()
        )
    except ValueError as exc:
        raise SchemaFileError(name, f"not JSON: {exc}") from exc
    return schema


@cache
def _validator(event_type: str, version: int) -> Draft202012Validator:
    return Draft202012Validator(load_schema(event_type, version))


def schema_errors(event_type: str, version: int, data: Any) -> list[str]:
    """Every violation of the schema by ``data``, as ``path: message`` lines (empty when valid)."""
    errors = sorted(_validator(event_type, version).iter_errors(data), key=lambda e: list(e.path))
    return [f"{'/'.join(str(p) for p in err.path) or '<root>'}: {err.message}" for err in errors]


def validate(event_type: str, version: int, data: Any) -> None:
    """Raise :class:`SchemaValidationError` unless ``data`` satisfies the schema."""
    errors = schema_errors(event_type, version, data)
    if errors:
        raise SchemaValidationError(event_type, version, errors, data)
