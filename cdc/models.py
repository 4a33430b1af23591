"""Values the Connect REST API returns, as frozen dataclasses.

Connector configs may hold secrets (a database password), so every config
field is left out of ``repr`` and :meth:`ConnectorInfo.redacted_config` is what
displays use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cutover_common.secrets import redact_value

RUNNING = "RUNNING"
PAUSED = "PAUSED"
STOPPED = "STOPPED"
FAILED = "FAILED"
UNASSIGNED = "UNASSIGNED"
RESTARTING = "RESTARTING"
STATES = (RUNNING, PAUSED, STOPPED, FAILED, UNASSIGNED, RESTARTING)


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """``GET /``: the worker's Kafka version, commit and cluster id."""

    version: str
    commit: str
    kafka_cluster_id: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WorkerInfo:
        return cls(
            str(data.get("version", "")),
            str(data.get("commit", "")),
            str(data.get("kafka_cluster_id", "")),
        )


@dataclass(frozen=True, slots=True)
class TaskState:
    """The state of one task (``trace`` is the worker's stack trace when FAILED)."""

    id: int
    state: str
    worker_id: str = ""
    trace: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TaskState:
        return cls(
            int(data["id"]), str(data["state"]), str(data.get("worker_id", "")), data.get("trace")
        )


@dataclass(frozen=True, slots=True)
class ConnectorState:
    """``GET /connectors/{name}/status``: the connector and every task."""

    name: str
    state: str
    worker_id: str = ""
    type: str = ""
    tasks: tuple[TaskState, ...] = ()
    trace: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ConnectorState:
        conn = data.get("connector", {})
        return cls(
            name=str(data["name"]),
            state=str(conn.get("state", "")),
            worker_id=str(conn.get("worker_id", "")),
            type=str(data.get("type", "")),
            tasks=tuple(
                sorted((TaskState.from_json(t) for t in data.get("tasks", [])), key=lambda t: t.id)
            ),
            trace=conn.get("trace"),
        )

    def failed_tasks(self) -> tuple[TaskState, ...]:
        return tuple(t for t in self.tasks if t.state == FAILED)

    def is_in(self, wanted: str, *, require_tasks: bool = True) -> bool:
        """True when the connector and (if it has or needs any) every task are in ``wanted``.

        A STOPPED connector has no tasks, so no tasks are required then.
        """
        if self.state != wanted:
            return False
        if wanted == STOPPED:
            return not self.tasks
        if require_tasks and not self.tasks:
            return False
        return all(t.state == wanted for t in self.tasks)

    def summary(self) -> str:
        tasks = ", ".join(f"{t.id}:{t.state}" for t in self.tasks) or "no tasks"
        return f"{self.state} ({tasks})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "worker_id": self.worker_id,
            "type": self.type,
            "trace": self.trace,
            "tasks": [
                {"id": t.id, "state": t.state, "worker_id": t.worker_id, "trace": t.trace}
                for t in self.tasks
            ],
        }


@dataclass(frozen=True, slots=True)
class ConnectorInfo:
    """``GET /connectors/{name}``: config (kept out of repr), task ids and type."""

    name: str
    config: Mapping[str, str] = field(repr=False)
    tasks: tuple[int, ...] = ()
    type: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ConnectorInfo:
        return cls(
            name=str(data["name"]),
            config={str(k): str(v) for k, v in data.get("config", {}).items()},
            tasks=tuple(int(t["task"]) for t in data.get("tasks", [])),
            type=str(data.get("type", "")),
        )

    def redacted_config(self) -> dict[str, Any]:
        return dict(redact_value(dict(self.config)))


@dataclass(frozen=True, slots=True)
class ConnectorOverview:
    """One row of ``GET /connectors?expand=status&expand=info``."""

    name: str
    info: ConnectorInfo | None
    status: ConnectorState | None


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """An installed connector, transform, converter or predicate plugin."""

    class_name: str
    type: str
    version: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PluginInfo:
        return cls(str(data["class"]), str(data.get("type", "")), str(data.get("version", "")))


@dataclass(frozen=True, slots=True)
class FieldResult:
    """One field of a config validation: its value and the worker's errors for it."""

    name: str
    value: str | None = field(repr=False)
    errors: tuple[str, ...] = ()
    recommended_values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """``PUT /connector-plugins/{plugin}/config/validate``: per-field errors as data."""

    plugin: str
    error_count: int
    fields: tuple[FieldResult, ...]
    groups: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ValidationResult:
        fields = []
        for item in data.get("configs", []):
            value = item.get("value") or {}
            fields.append(
                FieldResult(
                    name=str(value.get("name") or item.get("definition", {}).get("name")),
                    value=value.get("value"),
                    errors=tuple(str(e) for e in value.get("errors", []) or []),
                    recommended_values=tuple(
                        str(v) for v in value.get("recommended_values", []) or []
                    ),
                )
            )
        return cls(
            plugin=str(data.get("name", "")),
            error_count=int(data.get("error_count", 0)),
            fields=tuple(fields),
            groups=tuple(str(g) for g in data.get("groups", [])),
        )

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    @property
    def errors(self) -> dict[str, tuple[str, ...]]:
        """Field name -> its error messages, for the fields that have any."""
        return {f.name: f.errors for f in self.fields if f.errors}


@dataclass(frozen=True, slots=True)
class OffsetEntry:
    """One source partition (or topic-partition for sinks) and its committed offset."""

    partition: Mapping[str, Any]
    offset: Mapping[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "partition": dict(self.partition),
            "offset": None if self.offset is None else dict(self.offset),
        }


@dataclass(frozen=True, slots=True)
class ConnectorOffsets:
    """``GET /connectors/{name}/offsets`` (KIP-875)."""

    entries: tuple[OffsetEntry, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ConnectorOffsets:
        return cls(
            tuple(OffsetEntry(e["partition"], e.get("offset")) for e in data.get("offsets", []))
        )

    def to_json(self) -> dict[str, Any]:
        return {"offsets": [e.to_dict() for e in self.entries]}


@dataclass(frozen=True, slots=True)
class LoggerLevel:
    """One logger's level from ``/admin/loggers``."""

    name: str
    level: str
    last_modified: int | None = None
