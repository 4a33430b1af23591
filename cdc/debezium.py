"""Debezium Postgres connector configuration, built from one frozen options object.

:func:`build_postgres_config` turns :class:`PostgresConnectorOptions` into the
flat Connect config: ``pgoutput``, a slot and a *filtered* publication limited
to the captured tables, the Outbox Event Router (routing by aggregate type to
``<topic_prefix>.<aggregatetype>``, key = aggregate id, ``type``,
``correlation_id``, ``causation_id`` and ``aggregate_version`` as headers),
heartbeats with an action query so a quiet database does not pin WAL, snapshot
mode (:data:`DEFAULT_SNAPSHOT_MODE`: ``no_data``, history is never republished), tombstones and exactly-once source support. The password stays a
:class:`Secret` (or a config-provider reference) until the client sends it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from cutover_common.secrets import Secret, redact_value

POSTGRES_CONNECTOR = "io.debezium.connector.postgresql.PostgresConnector"
EVENT_ROUTER = "io.debezium.transforms.outbox.EventRouter"
JSON_CONVERTER = "org.apache.kafka.connect.json.JsonConverter"
STRING_CONVERTER = "org.apache.kafka.connect.storage.StringConverter"
TOPIC_NAME_MATCHES = "org.apache.kafka.connect.transforms.predicates.TopicNameMatches"
SNAPSHOT_MODES = (
    "no_data",
    "initial",
    "initial_only",
    "always",
    "when_needed",
    "configuration_based",
    "custom",
)

DEFAULT_SNAPSHOT_MODE = "no_data"
"""Debezium's ``snapshot.mode`` of a generated connector: stream from the replication slot's
position only, never read the captured tables first. Outbox rows stay in their table
(repair idempotency, the version index), so any snapshotting mode (``initial``, ``always``,
``when_needed``: e.g. a connector re-created without its Connect offsets) would publish
every row already published once more; ``no_data`` (Debezium 2.6+; ``never`` before)
publishes none. A brand-new slot starts at its creation: rows written earlier are never
published (phase 2 registers the connector before the application writes its first row)."""

MISSING_FIELD_POLICIES = ("error", "ignore")

ConfigValue = str | Secret


PROVIDER_REFERENCE = re.compile(r"^\$\{(?P<provider>[A-Za-z0-9_.-]+):(?P<rest>[^{}]+)\}$")
"""A Kafka Connect config provider reference, ``${provider:[path:]key}`` (the whole value)."""


@dataclass(frozen=True, slots=True)
class PasswordRef:
    """A password read by the worker through a config provider, e.g. ``${env:PG_PASSWORD}``
    or ``${file:/path:key}``: Connect's REST API and its config topic keep the reference,
    never the password.

    The worker must declare that provider, and ``apply`` must allow ``config_providers``.
    """

    provider: str
    path: str
    key: str | None = None

    def render(self) -> str:
        return f"${{{self.provider}:{self.path}{':' + self.key if self.key else ''}}}"

    @classmethod
    def parse(cls, text: str) -> PasswordRef:
        """``${provider:[path:]key}`` to a reference; ``ValueError`` (which never quotes
        ``text``: it may be a password typed in the wrong place) for anything else."""
        match = PROVIDER_REFERENCE.match(text.strip())
        if match is None:
            raise ValueError(
                "not a config provider reference like ${env:NAME} or ${file:/path:key}"
            )
        path, _, key = match["rest"].rpartition(":")
        return cls(match["provider"], path, key) if path else cls(match["provider"], key)


@dataclass(frozen=True, slots=True)
class DatabaseOptions:
    """Where the connector reads changes; the password never prints."""

    hostname: str
    port: int
    user: str
    dbname: str
    password: Secret | PasswordRef


@dataclass(frozen=True, slots=True)
class OutboxOptions:
    """The outbox table and how the Event Router maps its columns (the team's layout).

    Each of ``header_fields`` names a Kafka header; it comes from the column of the
    same name unless ``header_columns`` maps it to another column (``(header, column)``
    pairs: Debezium's ``column:header:alias`` placement), so a team's own column names
    never rename the headers cutover reads. ``aggregate_version`` (an integer column)
    arrives as its decimal text, e.g. ``b"2"``.
    ``missing_header_fields`` is the router's ``table.field.additional.missing``:
    ``ignore`` (the default) sends a row that lacks one of those columns without
    that header, so an outbox table created before the ``aggregate_version``
    column existed keeps flowing (its events are simply not checked for gaps);
    ``error`` fails the connector task on such a row.
    """

    table: str = "public.outbox"
    id_field: str = "id"
    key_field: str = "aggregateid"
    payload_field: str = "payload"
    route_by_field: str = "aggregatetype"
    topic_prefix: str = "outbox.event"
    header_fields: tuple[str, ...] = (
        "type",
        "correlation_id",
        "causation_id",
        "aggregate_version",
    )
    missing_header_fields: str = "ignore"
    expand_json_payload: bool = True
    header_columns: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.missing_header_fields not in MISSING_FIELD_POLICIES:
            raise ValueError(f"missing_header_fields must be one of {MISSING_FIELD_POLICIES}")
        unknown = sorted({h for h, _ in self.header_columns} - set(self.header_fields))
        if unknown:
            raise ValueError(f"header_columns name headers not in header_fields: {unknown}")

    @property
    def placement(self) -> str:
        """The router's ``table.fields.additional.placement``: ``column:header:alias`` each."""
        columns = dict(self.header_columns)
        return ",".join(f"{columns.get(h, h)}:header:{h}" for h in self.header_fields)

    @property
    def topic_replacement(self) -> str:
        return f"{self.topic_prefix}.${{routedByValue}}"


HEARTBEAT_TABLE = "public.debezium_heartbeat"


def heartbeat_table_ddl(table: str = HEARTBEAT_TABLE) -> str:
    """DDL of the one-row table the heartbeat action query updates."""
    return (
        f"CREATE TABLE IF NOT EXISTS {table} ("
        "id integer PRIMARY KEY, ts timestamptz NOT NULL DEFAULT now())"
    )


@dataclass(frozen=True, slots=True)
class HeartbeatOptions:
    """Heartbeats: every ``interval_ms`` the connector runs the action query.

    With ``table`` the query upserts a timestamp there (the table joins the
    publication, so the slot advances and health can read the timestamp);
    without it, a logical decoding message advances the slot instead.
    """

    interval_ms: int = 10_000
    table: str | None = HEARTBEAT_TABLE
    action_query: str | None = None

    def query(self) -> str:
        if self.action_query:
            return self.action_query
        if self.table:
            return (
                f"INSERT INTO {self.table} (id, ts) VALUES (1, now()) "
                "ON CONFLICT (id) DO UPDATE SET ts = EXCLUDED.ts"
            )
        return "SELECT pg_logical_emit_message(false, 'heartbeat', now()::varchar)"


@dataclass(frozen=True, slots=True)
class PostgresConnectorOptions:
    """Everything that shapes one Debezium Postgres connector."""

    database: DatabaseOptions
    topic_prefix: str
    slot_name: str
    publication_name: str
    tables: tuple[str, ...] = ()
    outbox: OutboxOptions | None = field(default_factory=OutboxOptions)
    heartbeat: HeartbeatOptions | None = field(default_factory=HeartbeatOptions)
    snapshot_mode: str = DEFAULT_SNAPSHOT_MODE
    # How long the task waits for change events when its queue is empty (Debezium's default
    # is 500 ms, which alone puts ~0.5 s on the commit-to-Kafka latency of a quiet outbox).
    poll_interval_ms: int = 50
    tombstones_on_delete: bool = False
    exactly_once: bool = False
    transaction_metadata: bool = False
    schemas_enable: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.snapshot_mode not in SNAPSHOT_MODES:
            raise ValueError(f"snapshot_mode must be one of {SNAPSHOT_MODES}")
        if not self.outbox and not self.tables:
            raise ValueError("capture the outbox or at least one table")

    def captured_tables(self) -> tuple[str, ...]:
        names = [*([self.outbox.table] if self.outbox else []), *self.tables]
        if self.heartbeat and self.heartbeat.table and not self.heartbeat.action_query:
            names.append(self.heartbeat.table)
        return tuple(dict.fromkeys(names))


def build_postgres_config(opts: PostgresConnectorOptions) -> dict[str, ConfigValue]:
    """The Connect config for ``opts`` (the password stays a :class:`Secret`)."""
    db = opts.database
    password: ConfigValue = (
        db.password.render() if isinstance(db.password, PasswordRef) else db.password
    )
    config: dict[str, ConfigValue] = {
        "connector.class": POSTGRES_CONNECTOR,
        "tasks.max": "1",
        "plugin.name": "pgoutput",
        "database.hostname": db.hostname,
        "database.port": str(db.port),
        "database.user": db.user,
        "database.password": password,
        "database.dbname": db.dbname,
        "topic.prefix": opts.topic_prefix,
        "slot.name": opts.slot_name,
        "publication.name": opts.publication_name,
        "publication.autocreate.mode": "filtered",
        "table.include.list": ",".join(opts.captured_tables()),
        "snapshot.mode": opts.snapshot_mode,
        "tombstones.on.delete": str(opts.tombstones_on_delete).lower(),
        "decimal.handling.mode": "string",
        "poll.interval.ms": str(opts.poll_interval_ms),
        "value.converter": JSON_CONVERTER,
        "value.converter.schemas.enable": str(opts.schemas_enable).lower(),
        "key.converter": JSON_CONVERTER,
        "key.converter.schemas.enable": str(opts.schemas_enable).lower(),
    }
    if opts.heartbeat:
        config["heartbeat.interval.ms"] = str(opts.heartbeat.interval_ms)
        config["heartbeat.action.query"] = opts.heartbeat.query()
    if opts.transaction_metadata:
        config["provide.transaction.metadata"] = "true"
    if opts.exactly_once:
        config["exactly.once.support"] = "required"
    if opts.outbox:
        config.update(outbox_router_config(opts.outbox, opts.topic_prefix))
        if not opts.tables:
            config["key.converter"] = STRING_CONVERTER
    config.update(opts.extra)
    return config


def outbox_router_config(outbox: OutboxOptions, topic_prefix: str) -> dict[str, str]:
    """The Event Router SMT, applied only to the outbox table's topic (a predicate)."""
    outbox_topic = f"{topic_prefix}.{outbox.table}".replace(".", r"\.")
    return {
        "transforms": "outbox",
        "transforms.outbox.type": EVENT_ROUTER,
        "transforms.outbox.predicate": "isOutbox",
        "transforms.outbox.table.field.event.id": outbox.id_field,
        "transforms.outbox.table.field.event.key": outbox.key_field,
        "transforms.outbox.table.field.event.payload": outbox.payload_field,
        "transforms.outbox.route.by.field": outbox.route_by_field,
        "transforms.outbox.route.topic.replacement": outbox.topic_replacement,
        "transforms.outbox.table.fields.additional.placement": outbox.placement,
        "transforms.outbox.table.field.additional.missing": outbox.missing_header_fields,
        "transforms.outbox.table.expand.json.payload": str(outbox.expand_json_payload).lower(),
        "predicates": "isOutbox",
        "predicates.isOutbox.type": TOPIC_NAME_MATCHES,
        "predicates.isOutbox.pattern": outbox_topic,
    }


def display_config(config: Mapping[str, ConfigValue]) -> dict[str, object]:
    """The config for people and logs: secrets and sensitive keys masked."""
    return dict(redact_value(dict(config)))
