"""An in-memory Kafka Connect worker behind the :class:`~cdc.transport.Transport` port.

Beside it, :class:`MemoryCaptureDatabase` and :class:`MemoryEventLog`, the in-memory ports
of :mod:`cdc.recover` (the captured database; Kafka's topics and delivered ids).

The worker answers the same routes, statuses and error bodies as a real worker
(``{"error_code": ..., "message": ...}``), so the client, the declarative
``apply`` and the CLI are unit-tested against it; the abstract contract tests
run against both this fake and the real worker. Knobs simulate what a real
worker does under trouble: an older ``version`` (newer routes answer
``HTTP 404 Not Found``), ``conflicts`` (the next requests answer 409 as during
a rebalance), ``task_failure`` (tasks FAILED for a config, e.g. a bad password)
and ``validator`` (per-field validation errors).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from cdc.health import SlotInfo
from cdc.recover import NewSlot, OutboxRow
from cdc.signal import BackfillColumns
from cdc.transport import HttpResponse, Params
from cdc.versions import Version

POSTGRES = "io.debezium.connector.postgresql.PostgresConnector"
MIRROR = "org.apache.kafka.connect.mirror.MirrorSourceConnector"
REQUIRED = {POSTGRES: ("database.hostname", "database.user", "database.dbname", "topic.prefix")}

Validator = Callable[[dict[str, str]], dict[str, list[str]]]
TaskFailure = Callable[[dict[str, str]], str | None]
_G = dict[str, str]  # path groups
_P = list[tuple[str, str]]  # query parameters
_R = tuple[int, Any]  # status, body


def required_fields_validator(config: dict[str, str]) -> dict[str, list[str]]:
    """Default fake validation: the plugin's required fields must be set, tasks.max an integer."""
    errors: dict[str, list[str]] = {}
    for key in REQUIRED.get(config.get("connector.class", ""), ()):
        if not config.get(key):
            errors[key] = [f"The '{key}' value is invalid: A value is required"]
    if not config.get("tasks.max", "1").isdigit():
        errors["tasks.max"] = [f"Invalid value {config['tasks.max']} for configuration tasks.max"]
    return errors


@dataclass(slots=True)
class _Connector:
    config: dict[str, str]
    target: str = "RUNNING"
    trace: str | None = None
    offsets: list[dict[str, Any]] = field(default_factory=list)
    topics: set[str] = field(default_factory=set)

    def task_count(self) -> int:
        raw = self.config.get("tasks.max", "1")
        return int(raw) if raw.isdigit() else 1


class _Reply(Exception):
    def __init__(self, status: int, body: Any = None) -> None:
        self.status, self.body = status, body


def _err(status: int, message: str) -> _Reply:
    return _Reply(status, {"error_code": status, "message": message})


ROUTES: list[tuple[str, str, str, Version]] = [
    ("GET", r"/", "info", Version(0, 10)),
    ("GET", r"/health", "health", Version(3, 9)),
    ("GET", r"/connectors", "list", Version(0, 10)),
    ("POST", r"/connectors", "create", Version(0, 10)),
    ("GET", r"/connectors/(?P<n>[^/]+)", "get", Version(0, 10)),
    ("DELETE", r"/connectors/(?P<n>[^/]+)", "delete", Version(0, 10)),
    ("GET", r"/connectors/(?P<n>[^/]+)/config", "get_config", Version(0, 10)),
    ("PUT", r"/connectors/(?P<n>[^/]+)/config", "put_config", Version(0, 10)),
    ("PATCH", r"/connectors/(?P<n>[^/]+)/config", "patch_config", Version(3, 8)),
    ("GET", r"/connectors/(?P<n>[^/]+)/status", "status", Version(0, 10)),
    ("GET", r"/connectors/(?P<n>[^/]+)/tasks", "tasks", Version(0, 10)),
    ("GET", r"/connectors/(?P<n>[^/]+)/tasks/(?P<t>\d+)/status", "task_status", Version(0, 10)),
    ("POST", r"/connectors/(?P<n>[^/]+)/tasks/(?P<t>\d+)/restart", "task_restart", Version(0, 10)),
    ("POST", r"/connectors/(?P<n>[^/]+)/restart", "restart", Version(0, 10)),
    ("PUT", r"/connectors/(?P<n>[^/]+)/pause", "pause", Version(0, 10)),
    ("PUT", r"/connectors/(?P<n>[^/]+)/resume", "resume", Version(0, 10)),
    ("PUT", r"/connectors/(?P<n>[^/]+)/stop", "stop", Version(3, 5)),
    ("GET", r"/connectors/(?P<n>[^/]+)/offsets", "get_offsets", Version(3, 5)),
    ("PATCH", r"/connectors/(?P<n>[^/]+)/offsets", "alter_offsets", Version(3, 6)),
    ("DELETE", r"/connectors/(?P<n>[^/]+)/offsets", "reset_offsets", Version(3, 6)),
    ("GET", r"/connectors/(?P<n>[^/]+)/topics", "topics", Version(2, 5)),
    ("PUT", r"/connectors/(?P<n>[^/]+)/topics/reset", "reset_topics", Version(2, 5)),
    ("GET", r"/connector-plugins", "plugins", Version(0, 10)),
    ("GET", r"/connector-plugins/(?P<p>[^/]+)/config", "plugin_config", Version(3, 2)),
    ("PUT", r"/connector-plugins/(?P<p>[^/]+)/config/validate", "validate", Version(0, 10)),
    ("GET", r"/admin/loggers", "loggers", Version(2, 4)),
    ("GET", r"/admin/loggers/(?P<l>[^/]+)", "get_logger", Version(2, 4)),
    ("PUT", r"/admin/loggers/(?P<l>[^/]+)", "set_logger", Version(2, 4)),
]


class FakeConnectWorker:
    """A Connect worker in memory; use it as a client's transport."""

    def __init__(
        self,
        *,
        version: str = "4.3.0",
        plugins: tuple[str, ...] = (POSTGRES, MIRROR),
        validator: Validator = required_fields_validator,
        task_failure: TaskFailure | None = None,
    ) -> None:
        self.version = version
        self.plugins = plugins
        self.validator = validator
        self.task_failure = task_failure
        self.conflicts = 0
        self.connectors: dict[str, _Connector] = {}
        self.loggers: dict[str, str] = {"root": "INFO"}
        self.requests: list[tuple[str, str]] = []

    @property
    def base_url(self) -> str:
        return "fake://connect"

    # -- test helpers ---------------------------------------------------------------------

    def record_offset(self, name: str, partition: dict[str, Any], offset: dict[str, Any]) -> None:
        """Pretend the connector committed ``offset`` for ``partition`` (and used a topic)."""
        conn = self.connectors[name]
        conn.offsets = [o for o in conn.offsets if o["partition"] != partition]
        conn.offsets.append({"partition": partition, "offset": offset})
        conn.topics.add(f"{conn.config.get('topic.prefix', name)}.changes")

    # -- the port -------------------------------------------------------------------------

    def request(
        self, method: str, path: str, *, params: Params = (), body: Any = None
    ) -> HttpResponse:
        self.requests.append((method, path))
        try:
            handler, groups = self._route(method, path)
            if self.conflicts > 0 and method != "GET":
                self.conflicts -= 1
                raise _err(
                    409,
                    "Cannot complete request because of a conflicting operation "
                    "(e.g. worker rebalance)",
                )
            status, out = handler(groups, list(params), body)
        except _Reply as reply:
            status, out = reply.status, reply.body
        return HttpResponse(status, out, "" if out is None else str(out))

    def _route(self, method: str, path: str) -> tuple[Callable[..., _R], _G]:
        have = Version.parse(self.version)
        allowed = False
        for verb, pattern, name, since in ROUTES:
            match = re.fullmatch(pattern, path)
            if match and have >= since:
                if verb == method:
                    groups = {k: unquote(v) for k, v in match.groupdict().items()}
                    return getattr(self, f"_h_{name}"), groups
                allowed = True
        if allowed:
            raise _err(405, "HTTP 405 Method Not Allowed")
        raise _err(404, "HTTP 404 Not Found")

    def _conn(self, name: str) -> _Connector:
        if name not in self.connectors:
            raise _err(404, f"Connector {name} not found")
        return self.connectors[name]

    def _check(self, config: dict[str, str]) -> None:
        plugin = config.get("connector.class", "")
        if not any(plugin in (p, p.rsplit(".", 1)[-1]) for p in self.plugins):
            raise _err(
                400,
                f"Failed to find any class that implements Connector and which name "
                f"matches {plugin}",
            )
        errs = self.validator(config)
        if errs:
            lines = "\n".join(f"{k}: {m}" for k, v in errs.items() for m in v)
            raise _err(
                400,
                f"Connector configuration is invalid and contains the following "
                f"{sum(map(len, errs.values()))} error(s):\n{lines}\n"
                "You can also find the above list of errors at the endpoint "
                "`/connector-plugins/{connectorType}/config/validate`",
            )

    def _failure(self, config: dict[str, str]) -> str | None:
        """The trace tasks fail with for ``config`` (evaluated at (re)start, like a real task)."""
        return self.task_failure(config) if self.task_failure else None

    def _info(self, name: str) -> dict[str, Any]:
        conn = self._conn(name)
        tasks = [] if conn.target == "STOPPED" else range(conn.task_count())
        return {
            "name": name,
            "config": dict(conn.config),
            "tasks": [{"connector": name, "task": i} for i in tasks],
            "type": "source",
        }

    def _status(self, name: str) -> dict[str, Any]:
        conn = self._conn(name)
        tasks = []
        if conn.target != "STOPPED":
            for i in range(conn.task_count()):
                task: dict[str, Any] = {"id": i, "state": conn.target, "worker_id": "fake:8083"}
                if conn.target == "RUNNING" and conn.trace:
                    task.update(state="FAILED", trace=conn.trace)
                tasks.append(task)
        return {
            "name": name,
            "type": "source",
            "tasks": tasks,
            "connector": {"state": conn.target, "worker_id": "fake:8083"},
        }

    # -- handlers -------------------------------------------------------------------------

    # Handlers take (path groups, query params, body) and return (status, body).

    def _h_info(self, g: _G, p: _P, b: Any) -> _R:
        return 200, {"version": self.version, "commit": "fake", "kafka_cluster_id": "fake-cluster"}

    def _h_health(self, g: _G, p: _P, b: Any) -> _R:
        return 200, {"status": "healthy", "message": "Worker has completed startup and is ready"}

    def _h_list(self, g: _G, p: _P, b: Any) -> _R:
        expand = [v for k, v in p if k == "expand"]
        if not expand:
            return 200, sorted(self.connectors)
        out: dict[str, Any] = {}
        for name in sorted(self.connectors):
            out[name] = {}
            if "info" in expand:
                out[name]["info"] = self._info(name)
            if "status" in expand:
                out[name]["status"] = self._status(name)
        return 200, out

    def _h_create(self, g: _G, p: _P, b: Any) -> _R:
        name = str(b.get("name") or b.get("config", {}).get("name") or "")
        if not name:
            raise _err(400, "Connector name must be specified")
        if name in self.connectors:
            raise _err(409, f"Connector {name} already exists")
        config = {**b.get("config", {}), "name": name}
        self._check(config)
        initial = str(b.get("initial_state") or "RUNNING").upper()
        if initial not in ("RUNNING", "PAUSED", "STOPPED"):
            raise _err(400, f"Invalid initial state {initial}")
        self.connectors[name] = _Connector(config, target=initial, trace=self._failure(config))
        return 201, self._info(name)

    def _h_get(self, g: _G, p: _P, b: Any) -> _R:
        return 200, self._info(g["n"])

    def _h_delete(self, g: _G, p: _P, b: Any) -> _R:
        self._conn(g["n"])
        del self.connectors[g["n"]]
        return 204, None

    def _h_get_config(self, g: _G, p: _P, b: Any) -> _R:
        return 200, dict(self._conn(g["n"]).config)

    def _h_put_config(self, g: _G, p: _P, b: Any) -> _R:
        name = g["n"]
        config = {**b, "name": name}
        self._check(config)
        created = name not in self.connectors
        if created:
            self.connectors[name] = _Connector(config)
        self.connectors[name].config = config
        self.connectors[name].trace = self._failure(config)
        return (201 if created else 200), self._info(name)

    def _h_patch_config(self, g: _G, p: _P, b: Any) -> _R:
        conn = self._conn(g["n"])
        merged = {**conn.config, **{k: v for k, v in b.items() if v is not None}}
        for key in [k for k, v in b.items() if v is None]:
            merged.pop(key, None)
        self._check(merged)
        conn.config = merged
        conn.trace = self._failure(merged)
        return 200, self._info(g["n"])

    def _h_status(self, g: _G, p: _P, b: Any) -> _R:
        return 200, self._status(g["n"])

    def _h_tasks(self, g: _G, p: _P, b: Any) -> _R:
        info = self._info(g["n"])
        conn = self._conn(g["n"])
        return 200, [
            {"id": {"connector": g["n"], "task": t["task"]}, "config": dict(conn.config)}
            for t in info["tasks"]
        ]

    def _task(self, g: dict[str, str]) -> dict[str, Any]:
        status = self._status(g["n"])
        for task in status["tasks"]:
            if task["id"] == int(g["t"]):
                return dict(task)
        raise _err(404, f"Task {g['n']}-{g['t']} not found")

    def _h_task_status(self, g: _G, p: _P, b: Any) -> _R:
        return 200, self._task(g)

    def _h_task_restart(self, g: _G, p: _P, b: Any) -> _R:
        self._task(g)
        conn = self._conn(g["n"])
        conn.trace = self._failure(conn.config)
        return 204, None

    def _h_restart(self, g: _G, p: _P, b: Any) -> _R:
        conn = self._conn(g["n"])
        flags = dict(p)
        include = flags.get("includeTasks") == "true"
        only_failed = flags.get("onlyFailed") == "true"
        before = self._status(g["n"])
        conn.trace = self._failure(conn.config)
        if not (include or only_failed):
            return 204, None
        for task in before["tasks"]:
            if include and (task["state"] == "FAILED" or not only_failed):
                task["state"] = "RESTARTING"
                task.pop("trace", None)
        if not only_failed or before["connector"]["state"] == "FAILED":
            before["connector"]["state"] = "RESTARTING"
        return 202, before

    def _set_target(self, name: str, target: str, status: int) -> tuple[int, Any]:
        self._conn(name).target = target
        return status, None

    def _h_pause(self, g: _G, p: _P, b: Any) -> _R:
        return self._set_target(g["n"], "PAUSED", 202)

    def _h_resume(self, g: _G, p: _P, b: Any) -> _R:
        return self._set_target(g["n"], "RUNNING", 202)

    def _h_stop(self, g: _G, p: _P, b: Any) -> _R:
        return self._set_target(g["n"], "STOPPED", 204)

    def _stopped(self, name: str) -> _Connector:
        conn = self._conn(name)
        if conn.target != "STOPPED":
            raise _err(
                400,
                "Connectors must be in the STOPPED state before their offsets can be "
                "modified. This can be done for the specified connector by issuing a "
                f"'PUT' request to the '/connectors/{name}/stop' endpoint",
            )
        return conn

    def _h_get_offsets(self, g: _G, p: _P, b: Any) -> _R:
        return 200, {"offsets": [dict(o) for o in self._conn(g["n"]).offsets]}

    def _h_alter_offsets(self, g: _G, p: _P, b: Any) -> _R:
        conn = self._stopped(g["n"])
        for entry in b.get("offsets", []):
            conn.offsets = [o for o in conn.offsets if o["partition"] != entry["partition"]]
            if entry.get("offset") is not None:
                conn.offsets.append({"partition": entry["partition"], "offset": entry["offset"]})
        return 200, {"message": "The offsets for this connector have been altered successfully"}

    def _h_reset_offsets(self, g: _G, p: _P, b: Any) -> _R:
        self._stopped(g["n"]).offsets = []
        return 200, {"message": "The offsets for this connector have been reset successfully"}

    def _h_topics(self, g: _G, p: _P, b: Any) -> _R:
        return 200, {g["n"]: {"topics": sorted(self._conn(g["n"]).topics)}}

    def _h_reset_topics(self, g: _G, p: _P, b: Any) -> _R:
        self._conn(g["n"]).topics = set()
        return 200, None

    def _h_plugins(self, g: _G, p: _P, b: Any) -> _R:
        return 200, [{"class": c, "type": "source", "version": "fake"} for c in self.plugins]

    def _h_plugin_config(self, g: _G, p: _P, b: Any) -> _R:
        plugin = next((c for c in self.plugins if g["p"] in (c, c.rsplit(".", 1)[-1])), None)
        if plugin is None:
            raise _err(404, f"Unknown plugin {g['p']}.")
        keys = REQUIRED.get(plugin, ())
        return 200, [{"name": k, "type": "STRING", "required": True} for k in keys]

    def _h_validate(self, g: _G, p: _P, b: Any) -> _R:
        plugin = next((c for c in self.plugins if g["p"] in (c, c.rsplit(".", 1)[-1])), None)
        if plugin is None:
            raise _err(
                400,
                f"Failed to find any class that implements Connector and which name "
                f"matches {g['p']}",
            )
        errs = self.validator({**b, "connector.class": b.get("connector.class", plugin)})
        if not b.get("name"):
            errs = {
                **errs,
                "name": ['Missing required configuration "name" which has no default value.'],
            }
        keys = sorted({*b, *errs})
        configs = [
            {
                "definition": {"name": k},
                "value": {
                    "name": k,
                    "value": b.get(k),
                    "recommended_values": [],
                    "errors": errs.get(k, []),
                    "visible": True,
                },
            }
            for k in keys
        ]
        return 200, {
            "name": plugin,
            "error_count": sum(map(len, errs.values())),
            "groups": ["Common"],
            "configs": configs,
        }

    def _h_loggers(self, g: _G, p: _P, b: Any) -> _R:
        return 200, {n: {"level": lvl, "last_modified": None} for n, lvl in self.loggers.items()}

    def _h_get_logger(self, g: _G, p: _P, b: Any) -> _R:
        if g["l"] not in self.loggers:
            raise _err(404, f"Logger {g['l']} not found.")
        return 200, {"level": self.loggers[g["l"]], "last_modified": None}

    def _h_set_logger(self, g: _G, p: _P, b: Any) -> _R:
        level = str(b.get("level", "")).upper()
        if level not in ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF"):
            raise _err(404, f"invalid log level '{level}'.")
        if dict(p).get("scope") == "cluster":
            self.loggers[g["l"]] = level
            return 204, None
        prefix = g["l"] + "."
        changed = sorted({g["l"], *(n for n in self.loggers if n.startswith(prefix))})
        for n in changed:
            self.loggers[n] = level
        return 200, changed


@dataclass(frozen=True, slots=True)
class MemoryRow:
    """An outbox row of :class:`MemoryCaptureDatabase`."""

    id: str
    route: str
    created_at: datetime


@dataclass
class MemoryCaptureDatabase:
    """The captured database in memory. ``closes_windows``: each snapshot signal closes as
    many windows as Debezium would (``window_rows`` rows each), as if the connector ran it."""

    rows: list[MemoryRow] = field(default_factory=list)
    slots: dict[str, SlotInfo] = field(default_factory=dict)
    publications: dict[str, list[str]] = field(default_factory=dict)
    executed: list[str] = field(default_factory=list)
    signals: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    now: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    next_lsn: int = 0x1_0000_0000
    closes_windows: bool = True
    window_rows: int = 1024

    def slot(self, slot_name: str) -> SlotInfo | None:
        return self.slots.get(slot_name)

    def drop_slot(self, slot_name: str) -> None:
        del self.slots[slot_name]

    def create_slot(self, slot_name: str) -> NewSlot:
        if slot_name in self.slots:
            raise ValueError(f"replication slot {slot_name} already exists")
        self.slots[slot_name] = SlotInfo(slot_name, False, 0, "reserved", 0)
        return NewSlot(self.next_lsn, self.now)

    def ensure_publication(self, name: str, tables: Sequence[str]) -> list[str]:
        has = self.publications.setdefault(name, [])
        missing = [t for t in tables if t not in has]
        has += missing
        return missing

    def execute(self, ddl: str) -> None:
        self.executed.append(ddl)

    def clear_signals(self, table: str) -> None:
        self.signals[table] = []

    def send_signal(self, table: str, signal_id: str, kind: str, data: str) -> None:
        sent = self.signals.setdefault(table, [])
        sent.append((signal_id, kind, data))
        if self.closes_windows and kind == "execute-snapshot":
            listed = sum(1 for r in self.rows if f"'{r.id}'" in data)
            count = max(1, -(-listed // self.window_rows))
            sent += [(f"w{i}-close", "snapshot-window-close", "{}") for i in range(count)]

    def closed_windows(self, table: str) -> int:
        return sum(1 for _, kind, _ in self.signals.get(table, []) if kind.endswith("close"))

    def outbox_rows(
        self, columns: BackfillColumns, since: datetime, until: datetime
    ) -> list[OutboxRow]:
        return [OutboxRow(r.id, r.route) for r in self.rows if since <= r.created_at < until]


@dataclass
class MemoryEventLog:
    """Kafka in memory: the topics that exist and the event ids on them."""

    topics: set[str] = field(default_factory=set)
    delivered: dict[str, set[str]] = field(default_factory=dict)

    def ensure_topics(self, names: Sequence[str]) -> list[str]:
        created = [n for n in dict.fromkeys(names) if n not in self.topics]
        self.topics.update(created)
        return created

    def delivered_ids(self, topics: Sequence[str], since: datetime) -> set[str]:
        return set().union(*(self.delivered.get(t, set()) for t in topics))
