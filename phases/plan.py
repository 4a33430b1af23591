"""The migration plan: a YAML file validated with pydantic (the edge of the phases package).

:func:`load_plan` reads a file; :func:`parse_plan` validates a mapping. Every problem is a
:class:`~phases.errors.PlanIssue` with the dotted path of the field (e.g.
``contexts.payment.compare.tolerance.total: Input should be a valid number``). Three
passes, all reported together: inline secrets (:mod:`phases.plan_checks`), the pydantic
schema, then cross references (unknown contexts anywhere).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from cdc.outbox_table import DEFAULT_TABLE, IDENTIFIER, TABLE_NAME, OutboxColumns, OutboxLayout
from phases.errors import PlanInvalid, PlanIssue

EnvVarName = Annotated[
    str, Field(pattern=r"^[A-Z_][A-Z0-9_]*$", description="environment variable")
]
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_\-]*$", max_length=100)]
PositiveFloat = Annotated[float, Field(gt=0)]
Rate = Annotated[float, Field(ge=0, le=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class DatabaseRef(_Model):
    """The legacy database, by environment variable holding its SQLAlchemy URL."""

    url_env: EnvVarName


class KafkaConfig(_Model):
    bootstrap_servers: str = Field(min_length=1)
    topic_prefix: str = "outbox.event"
    auth_env: EnvVarName | None = None


class ConnectConfig(_Model):
    url: str = Field(pattern=r"^https?://")
    auth_env: EnvVarName | None = None
    connector_name: str = "cutover-outbox"
    slot_name: str = "cutover_outbox"
    heartbeat_interval_ms: int = Field(default=5000, gt=0)


class SystemConfig(_Model):
    database: DatabaseRef
    kafka: KafkaConfig
    connect: ConnectConfig
    state_url_env: EnvVarName | None = Field(
        default=None, description="state store database; defaults to the legacy database"
    )
    state_schema: str = Field(
        default="cutover",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="schema of cutover's own tables in each database (created by `cutover init`)",
    )


class TopicSpec(_Model):
    name: str = Field(min_length=1)
    partitions: int = Field(default=6, ge=1, le=10_000)
    replication_factor: int = Field(default=1, ge=1)
    retention_ms: int | None = Field(default=None, ge=-1)


class OutcomeSpec(_Model):
    """How to read outcome records per side: a SQL query or a ``module:function`` callable.

    ``verify_*`` reads the phase-4 verify-mode results (reverse comparison), and
    ``async_event_*`` the event path's outcomes of the orders placed while the context was
    ``async`` (the reverse comparison's control; default: the ``event_*`` source).
    """

    key: str = Field(
        min_length=1,
        description="the business key column every outcome record carries (and the Kafka key)",
    )
    sync_query: str | None = None
    event_query: str | None = None
    verify_query: str | None = None
    async_event_query: str | None = None
    sync_callable: str | None = None
    event_callable: str | None = None
    verify_callable: str | None = None
    async_event_callable: str | None = None
    sync_database: DatabaseRef | None = None
    event_database: DatabaseRef | None = None
    verify_database: DatabaseRef | None = None

    @model_validator(mode="after")
    def _both_sides(self) -> OutcomeSpec:
        for side in ("sync", "event"):
            if not (getattr(self, f"{side}_query") or getattr(self, f"{side}_callable")):
                raise ValueError(f"needs {side}_query or {side}_callable")
        return self


class CompareRules(_Model):
    """Comparison rules (``phases.compare_config`` turns them into the comparators' options).
    Nothing is a default of any system: paths compared as decimals, lists compared in any
    order, ignored paths are the ones listed here (``produced_at`` and ``source`` are never
    compared)."""

    ignore: list[str] = Field(default_factory=list)
    tolerance: dict[str, PositiveFloat] = Field(default_factory=dict)
    settle_seconds: float = Field(default=5.0, ge=0)
    case_insensitive: list[str] = Field(default_factory=list)
    truncate: dict[str, Literal["minute", "second", "millisecond"]] = Field(
        default_factory=dict, description="timestamp path -> unit"
    )
    decimals: list[str] = Field(
        default_factory=list, description="paths compared as decimal numbers (1.0 == 1.00)"
    )
    unordered: list[str] = Field(
        default_factory=list, description="list paths compared in any order"
    )
    normalisers: list[str] = Field(default_factory=list)
    same_database: bool | None = Field(
        default=None,
        description="both outcome queries run on one database, compared by one join in "
        "Postgres; default: told by their URLs (host, port, database); false: never join",
    )
    sample_limit: int = Field(default=20, ge=0)
    explain_limit: int = Field(
        default=1000,
        ge=1,
        description="differing keys per category explained field by field (deepdiff); "
        "past it a key still counts as differing, under the path '(not explained)'",
    )
    mode_column: str = Field(
        default="write_mode",
        min_length=1,
        description="outcome column holding the mode each key was written in (the outbox "
        "row's mode); keys written in a mode the gate's comparison does not cover are "
        "out of scope, never missing",
    )
    inconclusive_column: str = Field(
        default="inconclusive",
        min_length=1,
        description="outcome column flagging a record that shows no decision (a verify run a "
        "downstream gave no answer); such keys are left out as inconclusive, never compared, "
        "and count toward the gate's max_left_out_share",
    )


class ShadowSpec(_Model):
    """The shadow app consuming a context's events (``cutover shadow run --plan PLAN --context
    NAME``; docs/shadow-sdk.md): a ``module:attribute`` reference to a
    ``cutover.shadow.ShadowApp`` and the options its consumers get."""

    app: str = Field(
        pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$",
        description="the shadow app, module:attribute",
    )
    options: dict[str, str] = Field(
        default_factory=dict, description="options for the app's consumers (--option key=value)"
    )


class SqlInvariantSpec(_Model):
    """An invariant given as a boolean SQL predicate over the columns of each side's outcome
    query; it runs in the comparison's own pass (both outcome queries on one database)."""

    name: str = Field(min_length=1)
    sql: str = Field(
        min_length=1,
        description="boolean predicate over the outcome query's columns, e.g. total >= 0; a "
        "row for which it is not true (false or NULL) violates it",
    )


class ContextSpec(_Model):
    tables: list[str] = Field(min_length=1)
    aggregate: str | None = None
    sync_endpoint: str | None = Field(default=None, pattern=r"^https?://")
    sync_endpoints: list[Annotated[str, Field(pattern=r"^https?://")]] = Field(default_factory=list)
    topic: TopicSpec
    events: list[str] = Field(default_factory=list)
    outcome: OutcomeSpec | None = None
    compare: CompareRules = Field(default_factory=CompareRules)
    invariants: list[str] = Field(default_factory=list)
    sql_invariants: list[SqlInvariantSpec] = Field(
        default_factory=list,
        description="invariants given as SQL predicates over the outcome queries, evaluated "
        "in Postgres in the comparison's pass (no full row read when nothing differs)",
    )
    depends_on: list[str] = Field(default_factory=list)
    consumer_group: str | None = Field(
        default=None, description="shadow consumer group (default cutover.shadow)"
    )
    shadow: ShadowSpec | None = None

    @property
    def endpoints(self) -> list[str]:
        """Every synchronous endpoint of this context."""
        return [*([self.sync_endpoint] if self.sync_endpoint else []), *self.sync_endpoints]


class GateBase(_Model):
    window_seconds: float = Field(
        default=300,
        gt=0,
        description="look-back of the gate's evidence: the keys its comparisons and invariants "
        "judge, the sync calls it counts (the last N seconds)",
    )
    min_sample: int = Field(default=0, ge=0)
    on_warn: Literal["pause", "proceed"] = "pause"
    on_fail: Literal["revert", "pause"] = "revert"
    contexts: list[str] | None = None


class IdentifyGate(GateBase):
    require_outcome_queries: bool = True


class BrokerGate(GateBase):
    max_canary_ms: float = Field(default=10_000, gt=0)
    max_heartbeat_age_ms: float = Field(default=60_000, gt=0)
    require_slot_active: bool = True


class DualWriteGate(GateBase):
    min_settled_keys: int = Field(default=1000, ge=0)
    min_match_rate: Rate = 0.999
    warn_match_rate: Rate | None = None
    noise_floor: Rate = Field(
        default=0.0,
        description="A/A disagreement rate (`cutover compare calibrate`), credited to the "
        "match rate by the comparator and the gate",
    )
    max_missing: int | None = Field(default=0, ge=0)
    max_divergent: int | None = Field(default=0, ge=0)
    max_duplicate: int | None = Field(default=0, ge=0)
    max_extra: int | None = Field(default=None, ge=0)
    max_invariant_violations: int | None = Field(default=0, ge=0)
    max_left_out_share: Rate = Field(
        default=0.05,
        description="largest share of keys a comparison may leave out (pending, out of scope, "
        "inconclusive verify runs) before the gate is inconclusive",
    )
    max_lag_ms: float = Field(
        default=2000,
        ge=0,
        description="largest age of the oldest event the shadow group has not consumed",
    )
    max_lag_messages: int = Field(default=10_000, ge=0)
    max_dead_lettered: int = Field(default=0, ge=0)
    require_schema_compatible: bool = True


class AsyncGate(DualWriteGate):
    drill_min_settled_keys: int = Field(default=100, ge=0)


class RemoveSyncGate(GateBase):
    max_sync_calls: int = Field(default=0, ge=0)
    require_invariants: bool = True


class Gates(_Model):
    identify: IdentifyGate = Field(default_factory=IdentifyGate)
    broker: BrokerGate
    dual_write: DualWriteGate
    async_: AsyncGate = Field(alias="async")
    remove_sync: RemoveSyncGate


_OUTBOX = OutboxColumns()
Column = Annotated[str, Field(pattern=IDENTIFIER.pattern)]


class OutboxSpec(_Model):
    """The outbox table and its column names (``cutover outbox init``, the writers and the
    connector read them here). Defaults: the Debezium Outbox Event Router layout plus the
    correlation/causation ids, aggregate version and write-time mode; ``null`` for an
    optional column says an adopted table has none. Kafka headers keep cutover's names."""

    table: str = Field(default=DEFAULT_TABLE, pattern=TABLE_NAME.pattern)
    id: Column = _OUTBOX.id
    aggregate_type: Column = _OUTBOX.aggregate_type
    aggregate_id: Column = _OUTBOX.aggregate_id
    event_type: Column = _OUTBOX.event_type
    payload: Column = _OUTBOX.payload
    correlation_id: Column | None = _OUTBOX.correlation_id
    causation_id: Column | None = _OUTBOX.causation_id
    aggregate_version: Column | None = _OUTBOX.aggregate_version
    mode: Column | None = _OUTBOX.mode
    created_at: Column | None = _OUTBOX.created_at

    @model_validator(mode="after")
    def _valid_layout(self) -> OutboxSpec:
        self.layout()  # distinct column names
        return self

    def layout(self) -> OutboxLayout:
        """The table as :class:`cdc.outbox_table.OutboxLayout` (DDL, connector options)."""
        columns = self.model_dump(include=set(OutboxSpec.model_fields) - {"table"})
        return OutboxLayout(self.table, OutboxColumns(**columns))


class ShadowOutboxSpec(OutboxSpec):
    """The shadow store's outbox: the follow-up events shadow handlers emit (``tx.emit``;
    docs/shadow-sdk.md). Its table and columns as in the ``outbox:`` block (defaults: the
    handler apps' ``shadow.outbox``), its database, and its own connector and slot: applied
    by ``cutover advance`` into phase 3, routed to ``<topic_prefix>.<aggregate type>``,
    purged by ``cutover outbox purge --shadow``."""

    table: str = Field(default="shadow.outbox", pattern=TABLE_NAME.pattern)
    database: DatabaseRef | None = Field(
        default=None, description="the shadow store's database; defaults to system.database"
    )
    connector_name: str = Field(default="cutover-shadow-outbox", min_length=1)
    slot_name: str = Field(
        default="cutover_shadow_outbox",
        pattern=r"^[a-z_][a-z0-9_]{0,52}$",
        description="replication slot (publication <slot>_pub, heartbeat table "
        "public.<slot>_heartbeat)",
    )
    topic_prefix: str = Field(default="shadow.event", min_length=1)


SNAPSHOT_MODE = Literal["no_data", "initial", "initial_only", "always", "when_needed"]
SlotName = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,52}$")]


class HeartbeatSpec(_Model):
    """The connector's heartbeat: every ``interval_ms`` it upserts a timestamp into ``table``
    (so a quiet database does not pin WAL, and the broker gate reads the heartbeat's age)."""

    interval_ms: int | None = Field(
        default=None, gt=0, description="default system.connect.heartbeat_interval_ms"
    )
    table: str | None = Field(
        default=None,
        pattern=TABLE_NAME.pattern,
        description="default public.debezium_heartbeat (the application's connector), "
        "public.<slot>_heartbeat (the shadow outbox's)",
    )


class ConnectorSpec(_Model):
    """One Debezium outbox connector as the plan owns it: ``cutover connectors diff|apply
    --plan`` and ``cutover advance`` build it from here and nowhere else (docs/connectors.md).
    A field left out keeps what plans without a ``connectors:`` block get. ``topic_prefix``
    is Debezium's ``topic.prefix`` (it names the connector's offsets and its heartbeat
    topic; the events' topics are ``system.kafka.topic_prefix`` / ``shadow_outbox.
    topic_prefix``): changing it, the slot or the publication of a running connector
    republishes the outbox and is refused without ``--allow-resnapshot``."""

    name: str | None = Field(default=None, min_length=1, description="connector name")
    slot: SlotName | None = Field(default=None, description="replication slot")
    publication: SlotName | None = Field(default=None, description="default <slot>_pub")
    topic_prefix: str | None = Field(
        default=None, min_length=1, description="Debezium's topic.prefix; default the name"
    )
    snapshot_mode: SNAPSHOT_MODE = Field(
        default="no_data", description="no_data: never republish the outbox's history"
    )
    heartbeat: HeartbeatSpec = Field(default_factory=HeartbeatSpec)
    password_env: EnvVarName | None = Field(
        default=None,
        description="environment variable on this machine with the connector's database "
        "password: it is sent to Connect, which shows it in its REST API and config topic; "
        "prefer password_ref. Default the password of the database URL",
    )
    password_ref: str | None = Field(
        default=None,
        description="Kafka Connect config provider reference the worker resolves, e.g. "
        "${env:CUTOVER_PG_PASSWORD} (docs/connectors.md): Connect keeps the reference, never "
        "the password",
    )

    @model_validator(mode="after")
    def _one_password_source(self) -> ConnectorSpec:
        if self.password_env is not None and self.password_ref is not None:
            raise ValueError("give password_env or password_ref, not both")
        return self


class ConnectorsSpec(_Model):
    """The plan's connectors: the application's outbox (``outbox:``, phase 2) and the shadow
    outbox (``shadow_outbox:``, phase 3). Their tables and columns come from those blocks."""

    outbox: ConnectorSpec = Field(default_factory=ConnectorSpec)
    shadow_outbox: ConnectorSpec | None = None


class ContractsSpec(_Model):
    """The team's event contracts: a directory of JSON Schema files ``<type>.v<N>.json``
    (``cutover events check``; docs/contracts.md). The phase-3 gate checks the events on
    each context's topic against it; without it, against the packaged catalogue."""

    dir: str = Field(min_length=1, description="contracts directory, relative to the plan file")


class Plan(_Model):
    """A validated migration plan."""

    version: Literal[1] = 1
    system: SystemConfig
    contexts: dict[Name, ContextSpec] = Field(min_length=1)
    gates: Gates
    auto_revert: bool = True
    reports_dir: str = "reports/cutover"
    rollout_order: list[str] = Field(default_factory=list)
    outbox: OutboxSpec = Field(default_factory=OutboxSpec)
    evidence: dict[str, Any] | None = Field(
        default=None,
        description="free-form notes, e.g. why `cutover discover` proposed each context",
    )
    contracts: ContractsSpec | None = None
    shadow_outbox: ShadowOutboxSpec | None = Field(
        default=None, description="the shadow store's outbox and its connector (phase 3)"
    )
    connectors: ConnectorsSpec = Field(
        default_factory=ConnectorsSpec,
        description="the outbox connectors (name, slot, publication, topic prefix, snapshot "
        "mode, heartbeat, password): the one description `connectors apply` and `advance` use",
    )
    _base_dir: Path | None = PrivateAttr(default=None)
    """The plan file's directory (set by :func:`load_plan`): relative paths start there."""

    def contracts_dir(self) -> Path | None:
        """The contracts directory the plan names, relative to the plan file (``None``: the
        plan names none)."""
        if self.contracts is None:
            return None
        path = Path(self.contracts.dir)
        return path if path.is_absolute() or self._base_dir is None else self._base_dir / path

    def context_names(self) -> list[str]:
        """The bounded contexts, in rollout order (plan order when none is given)."""
        rest = [c for c in self.contexts if c not in self.rollout_order]
        return [*self.rollout_order, *rest]

    def digest(self) -> str:
        """sha256 of the plan's canonical JSON form (goes into every evidence bundle)."""
        data = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True)
        return hashlib.sha256(data.encode()).hexdigest()


def plan_json_schema() -> dict[str, Any]:
    """The JSON Schema of the plan file (``cutover plan schema``)."""
    schema = Plan.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "cutover migration plan"
    return schema


def _loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "<root>"


def _schema_issues(exc: ValidationError, skip: set[str]) -> list[PlanIssue]:
    issues: list[PlanIssue] = []
    for err in exc.errors(include_url=False):
        path = _loc(tuple(err["loc"]))
        if err["type"] == "extra_forbidden" and path in skip:
            continue
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown field (not part of the plan schema)"
        elif err["type"] == "missing":
            message = "Field required (missing)"
        issues.append(PlanIssue(path, message))
    return issues


def parse_plan(data: Any, *, source: str = "<plan>") -> Plan:
    """Validate ``data`` (a mapping from YAML); raise :class:`PlanInvalid` with every issue."""
    from phases.plan_checks import cross_reference_issues, inline_secret_issues

    if not isinstance(data, dict):
        raise PlanInvalid(source, [PlanIssue("<root>", "the plan must be a YAML mapping")])
    secret_issues = inline_secret_issues(data)
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        schema = _schema_issues(exc, {i.path for i in secret_issues})
        raise PlanInvalid(source, [*secret_issues, *schema]) from None
    issues = [*secret_issues, *cross_reference_issues(plan)]
    if issues:
        raise PlanInvalid(source, issues)
    return plan


def duplicate_key_issues(text: str) -> list[PlanIssue]:
    """Every mapping key written twice in the YAML ``text`` (PyYAML keeps the last one
    silently): the dotted path of the key and the lines of both. Raises ``yaml.YAMLError``
    for text that is not YAML."""
    issues: list[PlanIssue] = []

    def walk(node: yaml.Node, path: str) -> None:
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, value in node.value:
                name = str(key.value)
                child = f"{path}.{name}" if path else name
                line = key.start_mark.line + 1
                if name in first and name != "<<":
                    issues.append(
                        PlanIssue(
                            child,
                            f"key {name!r} written twice (lines {first[name]} and {line}); "
                            "YAML would keep only the last",
                        )
                    )
                first.setdefault(name, line)
                walk(value, child)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, f"{path}.{i}" if path else str(i))

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        walk(root, "")
    return issues


def parse_plan_text(text: str, *, source: str = "<plan>") -> Plan:
    """Parse YAML text and validate it (a key written twice is an issue, not the last one
    silently kept)."""
    try:
        duplicates = duplicate_key_issues(text)
        if duplicates:
            raise PlanInvalid(source, duplicates)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "<yaml>"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow
            before = text[: exc.position]
            where = (
                f"line {before.count(chr(10)) + 1}, column {len(before.rsplit(chr(10), 1)[-1]) + 1}"
            )
        raise PlanInvalid(source, [PlanIssue(where, f"not valid YAML: {problem}")]) from None
    try:
        return parse_plan(data, source=source)
    except PlanInvalid as exc:
        lines = yaml_lines(text)
        raise PlanInvalid(source, [_with_line(i, lines) for i in exc.issues]) from None


def yaml_lines(text: str) -> dict[str, int]:
    """Dotted path -> 1-based line of every node in the YAML document."""
    out: dict[str, int] = {}

    def walk(node: yaml.Node, path: str) -> None:
        out[path or "<root>"] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                walk(value, f"{path}.{key.value}" if path else str(key.value))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, f"{path}.{i}" if path else str(i))

    root = yaml.compose(text)
    if root is not None:
        walk(root, "")
    return out


def _with_line(issue: PlanIssue, lines: dict[str, int]) -> PlanIssue:
    path = issue.path
    while path not in lines and "." in path:  # a missing field: point at its parent
        path = path.rsplit(".", 1)[0]
    line = lines.get(path)
    return PlanIssue(issue.path, f"{issue.message} (line {line})") if line else issue


def load_plan(path: str | Path) -> Plan:
    """Read and validate the plan file at ``path``."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise PlanInvalid(str(p), [PlanIssue("<file>", f"cannot read: {exc.strerror}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        reason = f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at line {line}, offset {exc.start})"
        raise PlanInvalid(str(p), [PlanIssue("<file>", reason)]) from None
    plan = parse_plan_text(text, source=str(p))
    plan._base_dir = p.parent
    return plan
