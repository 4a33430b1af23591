"""Fixtures for the cdc integration tests: a real Debezium connector config per test."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from cdc.client import ConnectClient
from cdc.debezium import (
    DatabaseOptions,
    HeartbeatOptions,
    PostgresConnectorOptions,
    build_postgres_config,
    heartbeat_table_ddl,
)
from cdc.errors import ConnectorNotFound
from rehearsal.stack.endpoints import Endpoints
from tests.integration.topics import ensure_connector_topics

OUTBOX_DDL = (
    "create table outbox (id uuid primary key, aggregatetype varchar(255) not null, "
    "aggregateid varchar(255) not null, type varchar(255) not null, payload jsonb not null, "
    "correlation_id varchar(255), causation_id varchar(255), "
    "created_at timestamptz not null default now())"
)


@pytest.fixture
def captured_db(endpoints: Endpoints, fresh_database: str) -> str:
    """``fresh_database`` with the outbox and heartbeat tables."""
    with psycopg.connect(endpoints.dsn(fresh_database), autocommit=True) as conn:
        conn.execute(OUTBOX_DDL)
        conn.execute(heartbeat_table_ddl())
    return fresh_database


def slot_safe(name: str) -> str:
    return name.replace("-", "_").lower()


def options_for(
    endpoints: Endpoints, database: str, name: str, **kw: Any
) -> PostgresConnectorOptions:
    db = DatabaseOptions(
        "127.0.0.1", endpoints.pg_port, endpoints.pg_user, database, endpoints.pg_password
    )
    kw.setdefault("heartbeat", HeartbeatOptions(interval_ms=1000))
    return PostgresConnectorOptions(
        database=db,
        topic_prefix=slot_safe(name),
        slot_name=slot_safe(name),
        publication_name=slot_safe(name),
        **kw,
    )


class TrackingClient(ConnectClient):
    """The real client, remembering every connector it created (and nothing else)."""

    created: set[str]
    bootstrap_servers: str

    def create_connector(self, name: str, config: Any, *, initial_state: str | None = None) -> Any:
        self.created.add(name)
        ensure_connector_topics(self.bootstrap_servers, config)  # no topic is auto-created
        return super().create_connector(name, config, initial_state=initial_state)

    def put_config(self, name: str, config: Any) -> Any:
        self.created.add(name)
        ensure_connector_topics(self.bootstrap_servers, config)
        return super().put_config(name, config)


@pytest.fixture
def client(endpoints: Endpoints, fresh_database: str) -> Iterator[ConnectClient]:
    """A client for the real worker; deletes exactly the connectors this test created.

    It depends on ``fresh_database`` so that its connectors are deleted *before* the
    database (and the connectors' replication slots) are dropped.
    """
    real = TrackingClient(ConnectClient.from_url(endpoints.connect_url).transport)
    real.created = set()
    real.bootstrap_servers = endpoints.bootstrap_servers
    yield real
    for name in sorted(real.created):
        with contextlib.suppress(ConnectorNotFound):
            real.delete_connector(name)


@pytest.fixture
def make_config(endpoints: Endpoints, captured_db: str) -> Callable[[str], dict[str, Any]]:
    def make(name: str) -> dict[str, Any]:
        return build_postgres_config(options_for(endpoints, captured_db, name))

    return make
