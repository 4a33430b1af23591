"""Desired connectors, described in YAML (or a mapping embedded in the migration plan).

::

    connectors:
      orders-outbox:
        state: running                 # running | paused | stopped
        allow: []                      # jaas | jndi | config_providers (refused otherwise)
        debezium_postgres:             # built by cdc.debezium ...
          database: {hostname: 127.0.0.1, port: 5432, user: app, dbname: shop,
                     password_env: SHOP_DB_PASSWORD}
          topic_prefix: shop
          slot_name: shop_outbox
          publication_name: shop_outbox
          snapshot_mode: no_data       # the default: never republish the outbox's history
          signal_table: public.shop_outbox_signal  # optional: the table Debezium reads
                                       # signals from (must exist; `connectors recover`
                                       # uses public.<slot_name>_signal)
          outbox: {}                   # cdc.debezium.OutboxOptions' defaults, or override:
                                       # table, topic_prefix, expand_json_payload,
                                       # header_fields, missing_header_fields, the columns
                                       # id_field, key_field, payload_field, route_by_field
                                       # and header_columns {header: column} (the header
                                       # keeps its name whatever the column is called)
        config: {}                     # ... or given raw (merged over the built one)

A secret is referenced, never inline: ``{env: NAME}`` as a config value (or
``password_env``) is read from this machine's environment into a
:class:`~cutover_common.secrets.Secret`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cdc.debezium import (
    DEFAULT_SNAPSHOT_MODE,
    DatabaseOptions,
    HeartbeatOptions,
    OutboxOptions,
    PasswordRef,
    PostgresConnectorOptions,
    build_postgres_config,
)
from cdc.errors import DesiredStateError
from cdc.safety import CATEGORIES
from cdc.signal import with_signal_table
from cutover_common.secrets import Secret

ConfigValue = str | Secret


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _EnvRef(_Strict):
    env: str


class _ProviderRef(_Strict):
    provider: str
    path: str
    key: str | None = None


class _Database(_Strict):
    hostname: str
    port: int = 5432
    user: str
    dbname: str
    password_env: str | None = None
    password_ref: _ProviderRef | None = None


# The outbox defaults are cdc.debezium's (one source of truth): a file that leaves a
# field out gets what a connector built in code gets, e.g. the ``aggregate_version`` header.
_OUTBOX_DEFAULTS = OutboxOptions()


class _Outbox(_Strict):
    table: str = _OUTBOX_DEFAULTS.table
    topic_prefix: str = _OUTBOX_DEFAULTS.topic_prefix
    expand_json_payload: bool = _OUTBOX_DEFAULTS.expand_json_payload
    header_fields: list[str] = Field(default_factory=lambda: list(_OUTBOX_DEFAULTS.header_fields))
    missing_header_fields: str = _OUTBOX_DEFAULTS.missing_header_fields  # checked by OutboxOptions
    id_field: str = _OUTBOX_DEFAULTS.id_field
    key_field: str = _OUTBOX_DEFAULTS.key_field
    payload_field: str = _OUTBOX_DEFAULTS.payload_field
    route_by_field: str = _OUTBOX_DEFAULTS.route_by_field
    header_columns: dict[str, str] = Field(default_factory=dict)


class _Heartbeat(_Strict):
    interval_ms: int = 10_000
    table: str | None = "public.debezium_heartbeat"
    action_query: str | None = None


class _Debezium(_Strict):
    database: _Database
    topic_prefix: str
    slot_name: str
    publication_name: str
    tables: list[str] = Field(default_factory=list)
    outbox: _Outbox | None = Field(default_factory=_Outbox)
    heartbeat: _Heartbeat | None = Field(default_factory=_Heartbeat)
    snapshot_mode: str = DEFAULT_SNAPSHOT_MODE  # streams from the slot only
    tombstones_on_delete: bool = False
    exactly_once: bool = False
    transaction_metadata: bool = False
    signal_table: str | None = None


class _Connector(_Strict):
    state: Literal["running", "paused", "stopped"] = "running"
    allow: list[Literal["jaas", "jndi", "config_providers"]] = Field(default_factory=list)
    debezium_postgres: _Debezium | None = None
    config: dict[str, str | int | bool | _EnvRef] = Field(default_factory=dict)


class _File(_Strict):
    connectors: dict[str, _Connector]


@dataclass(frozen=True, slots=True)
class DesiredConnector:
    """One connector as it should be: its full config, target state and what it may use."""

    name: str
    config: Mapping[str, ConfigValue]
    state: str = "RUNNING"
    allow: frozenset[str] = frozenset()

    def __repr__(self) -> str:
        return f"DesiredConnector({self.name!r}, state={self.state!r}, keys={len(self.config)})"


def load_desired_file(path: Path, env: Mapping[str, str] | None = None) -> list[DesiredConnector]:
    """Read a desired-connectors YAML file."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise DesiredStateError(str(path), [str(exc)]) from exc
    return load_desired(data, env=env, source=str(path))


def load_desired(
    data: Any, *, env: Mapping[str, str] | None = None, source: str = "connectors"
) -> list[DesiredConnector]:
    """Validate a mapping (``{"connectors": {...}}``) into desired connectors."""
    try:
        parsed = _File.model_validate(data)
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise DesiredStateError(source, problems) from None
    environ = os.environ if env is None else env
    out, problems = [], []
    for name, spec in sorted(parsed.connectors.items()):
        try:
            out.append(_desired(name, spec, environ))
        except (KeyError, ValueError) as exc:
            problems.append(f"connectors.{name}: {exc}")
    if problems:
        raise DesiredStateError(source, problems)
    return out


def _secret_from_env(environ: Mapping[str, str], var: str) -> Secret:
    if var not in environ:
        raise KeyError(f"environment variable {var} is not set")
    return Secret(environ[var])


def _desired(name: str, spec: _Connector, environ: Mapping[str, str]) -> DesiredConnector:
    config: dict[str, ConfigValue] = {}
    if spec.debezium_postgres is not None:
        config.update(build_postgres_config(_options(spec.debezium_postgres, environ)))
        if spec.debezium_postgres.signal_table:
            config = with_signal_table(config, spec.debezium_postgres.signal_table)
    for key, value in spec.config.items():
        if isinstance(value, _EnvRef):
            config[key] = _secret_from_env(environ, value.env)
        else:
            config[key] = str(value).lower() if isinstance(value, bool) else str(value)
    if "connector.class" not in config:
        raise ValueError("config needs connector.class (or use debezium_postgres)")
    assert set(spec.allow) <= set(CATEGORIES)
    return DesiredConnector(name, config, spec.state.upper(), frozenset(spec.allow))


def _options(spec: _Debezium, environ: Mapping[str, str]) -> PostgresConnectorOptions:
    db = spec.database
    password: Secret | PasswordRef
    if db.password_ref is not None:
        ref = db.password_ref
        password = PasswordRef(ref.provider, ref.path, ref.key)
    elif db.password_env is not None:
        password = _secret_from_env(environ, db.password_env)
    else:
        raise ValueError("database needs password_env or password_ref (never an inline password)")
    outbox = spec.outbox
    hb = spec.heartbeat
    return PostgresConnectorOptions(
        database=DatabaseOptions(db.hostname, db.port, db.user, db.dbname, password),
        topic_prefix=spec.topic_prefix,
        slot_name=spec.slot_name,
        publication_name=spec.publication_name,
        tables=tuple(spec.tables),
        outbox=None
        if outbox is None
        else OutboxOptions(
            table=outbox.table,
            topic_prefix=outbox.topic_prefix,
            expand_json_payload=outbox.expand_json_payload,
            header_fields=tuple(outbox.header_fields),
            missing_header_fields=outbox.missing_header_fields,
            id_field=outbox.id_field,
            key_field=outbox.key_field,
            payload_field=outbox.payload_field,
            route_by_field=outbox.route_by_field,
            header_columns=tuple(outbox.header_columns.items()),
        ),
        heartbeat=None
        if hb is None
        else HeartbeatOptions(hb.interval_ms, hb.table, hb.action_query),
        snapshot_mode=spec.snapshot_mode,
        tombstones_on_delete=spec.tombstones_on_delete,
        exactly_once=spec.exactly_once,
        transaction_metadata=spec.transaction_metadata,
    )
