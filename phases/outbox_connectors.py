"""The plan's outbox connectors, as one kind of value: the application's (the ``outbox:``
block, applied entering phase 2) and the shadow store's (the ``shadow_outbox:`` block,
applied entering phase 3), each named by the plan's ``connectors:`` block.

Both are an :class:`OutboxConnector`, and :func:`connector_config` is the one builder of
their Connect configs: ``cutover advance`` (:class:`phases.adapters.CdcConnectorAdmin`) and
``cutover connectors diff|apply --plan`` (:mod:`phases.plan_connectors`) both call it, so a
connector the plan owns has one description. A ``connectors:`` field left out is derived
from the fields plans had before the block (``system.connect.connector_name``,
``slot_name``, ``heartbeat_interval_ms``; ``shadow_outbox.connector_name``, ``slot_name``):
those plans build exactly the connectors they built before. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import make_url

from cdc.debezium import (
    HEARTBEAT_TABLE,
    ConfigValue,
    DatabaseOptions,
    HeartbeatOptions,
    PasswordRef,
    PostgresConnectorOptions,
    build_postgres_config,
    heartbeat_table_ddl,
)
from cdc.outbox_table import OutboxLayout
from cdc.signal import signal_table_ddl, signal_table_for, with_signal_table
from cutover_common.errors import EnvironmentVariableMissing
from cutover_common.secrets import Secret
from phases.plan import ConnectorSpec, Plan


@dataclass(frozen=True, slots=True)
class OutboxConnector:
    """One Debezium outbox connector the plan declares.

    ``topic_prefix`` is the events' topic prefix (``<topic_prefix>.<aggregate type>``);
    ``server_prefix`` is Debezium's ``topic.prefix`` (its offsets and heartbeat topic).
    ``url_env`` names the environment variable with its database's URL; the connector's
    password is ``password_ref`` (a config provider reference the worker resolves: Connect
    never holds the password), else the value of ``password_env``, else the URL's. ``block`` is the plan field it
    comes from (for messages); ``created_by`` says what creates its table, when something
    other than ``cutover outbox init`` does (applying then checks the table exists first:
    the connector's publication needs it).
    """

    name: str
    slot_name: str
    layout: OutboxLayout
    topic_prefix: str
    url_env: str
    heartbeat_table: str
    heartbeat_interval_ms: int
    phase: int
    block: str
    created_by: str | None = None
    publication_name: str = ""
    server_prefix: str = ""
    snapshot_mode: str = "no_data"
    password_env: str | None = None
    password_ref: str | None = None

    def __post_init__(self) -> None:
        if not self.publication_name:
            object.__setattr__(self, "publication_name", f"{self.slot_name}_pub")
        if not self.server_prefix:
            object.__setattr__(self, "server_prefix", self.name)

    @property
    def signal_table(self) -> str:
        """The table it reads Debezium signals from (the one ``connectors recover`` uses)."""
        return signal_table_for(self.slot_name)


def support_tables_ddl(connector: OutboxConnector) -> list[str]:
    """DDL (idempotent) of the tables ``connector`` needs before it starts besides its outbox:
    its heartbeat table (the action query writes it) and its signal table (captured)."""
    return [
        heartbeat_table_ddl(connector.heartbeat_table),
        signal_table_ddl(connector.signal_table),
    ]


def application_connector(plan: Plan) -> OutboxConnector:
    """The application's outbox connector (phase 2): ``connectors.outbox``, the rest derived
    from ``system.connect``."""
    connect = plan.system.connect
    spec = plan.connectors.outbox
    name = spec.name or connect.connector_name
    return OutboxConnector(
        name=name,
        slot_name=spec.slot or connect.slot_name,
        layout=plan.outbox.layout(),
        topic_prefix=plan.system.kafka.topic_prefix,
        url_env=plan.system.database.url_env,
        heartbeat_table=spec.heartbeat.table or HEARTBEAT_TABLE,
        heartbeat_interval_ms=spec.heartbeat.interval_ms or connect.heartbeat_interval_ms,
        phase=2,
        block="outbox",
        publication_name=spec.publication or "",
        server_prefix=spec.topic_prefix or name,
        snapshot_mode=spec.snapshot_mode,
        password_env=spec.password_env,
        password_ref=spec.password_ref,
    )


def shadow_outbox_connector(plan: Plan) -> OutboxConnector | None:
    """The shadow outbox's connector (phase 3), or ``None`` when the plan declares none:
    ``connectors.shadow_outbox``, the rest derived from ``shadow_outbox:``.

    Its heartbeat writes a table of its own (``public.<slot>_heartbeat``), so the
    application's heartbeat age (the broker gate's ``heartbeat_fresh``) is never refreshed
    by this connector.
    """
    block = plan.shadow_outbox
    if block is None:
        return None
    spec = plan.connectors.shadow_outbox or ConnectorSpec()
    database = block.database or plan.system.database
    name = spec.name or block.connector_name
    slot = spec.slot or block.slot_name
    return OutboxConnector(
        name=name,
        slot_name=slot,
        layout=block.layout(),
        topic_prefix=block.topic_prefix,
        url_env=database.url_env,
        heartbeat_table=spec.heartbeat.table or f"public.{slot}_heartbeat",
        heartbeat_interval_ms=spec.heartbeat.interval_ms
        or plan.system.connect.heartbeat_interval_ms,
        phase=3,
        block="shadow_outbox",
        created_by="the shadow workers create it when they start (`cutover shadow run`)",
        publication_name=spec.publication or "",
        server_prefix=spec.topic_prefix or name,
        snapshot_mode=spec.snapshot_mode,
        password_env=spec.password_env,
        password_ref=spec.password_ref,
    )


def plan_connectors(plan: Plan) -> list[OutboxConnector]:
    """Every connector the plan owns: the application's, then the shadow outbox's."""
    shadow = shadow_outbox_connector(plan)
    return [application_connector(plan), *([shadow] if shadow else [])]


def connector_options(
    connector: OutboxConnector, database_url: str, env: Mapping[str, str]
) -> PostgresConnectorOptions:
    """The Debezium options of ``connector`` on the database at ``database_url`` (a
    SQLAlchemy URL); its password by reference when the plan gives one, else from
    ``env[connector.password_env]`` when named, else the URL's."""
    url = make_url(database_url)
    return PostgresConnectorOptions(
        database=DatabaseOptions(
            url.host or "localhost",
            url.port or 5432,
            url.username or "",
            url.database or "",
            _password(connector, url.password, env),
        ),
        topic_prefix=connector.server_prefix,
        slot_name=connector.slot_name,
        publication_name=connector.publication_name,
        outbox=connector.layout.connector_options(connector.topic_prefix),
        heartbeat=HeartbeatOptions(
            interval_ms=connector.heartbeat_interval_ms, table=connector.heartbeat_table
        ),
        snapshot_mode=connector.snapshot_mode,
    )


def _password(
    connector: OutboxConnector, url_password: str | None, env: Mapping[str, str]
) -> Secret | PasswordRef:
    if connector.password_ref is not None:
        return PasswordRef.parse(connector.password_ref)
    if connector.password_env is None:
        return Secret(str(url_password or ""))
    if connector.password_env in env:
        return Secret(env[connector.password_env])
    raise EnvironmentVariableMissing(
        connector.password_env, named_by=f"connectors.{connector.block}.password_env"
    )


def connector_config(
    connector: OutboxConnector, database_url: str, env: Mapping[str, str]
) -> dict[str, ConfigValue]:
    """The Connect config of ``connector``: the one builder of a plan-owned connector. It
    reads signals from its signal table (:mod:`cdc.signal`), so ``connectors recover`` adds
    nothing to it and a team can signal an ad-hoc incremental snapshot."""
    config = build_postgres_config(connector_options(connector, database_url, env))
    return with_signal_table(config, connector.signal_table)
