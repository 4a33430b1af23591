"""The plan's outbox connectors, as one kind of value: the application's (the ``outbox:`` block
with ``system.connect`` and ``system.kafka.topic_prefix``, applied entering phase 2) and the
shadow store's (the ``shadow_outbox:`` block, applied entering phase 3).

Both are an :class:`OutboxConnector`, so one builder makes both Connect configs
(:class:`phases.adapters.CdcConnectorAdmin`) and one purge serves both tables
(``cutover outbox purge [--shadow]``). Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdc.debezium import HEARTBEAT_TABLE
from cdc.outbox_table import OutboxLayout
from phases.plan import Plan


@dataclass(frozen=True, slots=True)
class OutboxConnector:
    """One Debezium outbox connector the plan declares.

    ``url_env`` names the environment variable with its database's URL; ``block`` is the
    plan field it comes from (for messages); ``created_by`` says what creates its table,
    when something other than ``cutover outbox init`` does (applying then checks the table
    exists first: the connector's publication needs it).
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

    @property
    def publication_name(self) -> str:
        return f"{self.slot_name}_pub"


def application_connector(plan: Plan) -> OutboxConnector:
    """The application's outbox connector (phase 2)."""
    connect = plan.system.connect
    return OutboxConnector(
        name=connect.connector_name,
        slot_name=connect.slot_name,
        layout=plan.outbox.layout(),
        topic_prefix=plan.system.kafka.topic_prefix,
        url_env=plan.system.database.url_env,
        heartbeat_table=HEARTBEAT_TABLE,
        heartbeat_interval_ms=connect.heartbeat_interval_ms,
        phase=2,
        block="outbox",
    )


def shadow_outbox_connector(plan: Plan) -> OutboxConnector | None:
    """The shadow outbox's connector (phase 3), or ``None`` when the plan declares none.

    Its heartbeat writes a table of its own (``public.<slot>_heartbeat``), so the
    application's heartbeat age (the broker gate's ``heartbeat_fresh``) is never refreshed
    by this connector.
    """
    block = plan.shadow_outbox
    if block is None:
        return None
    database = block.database or plan.system.database
    return OutboxConnector(
        name=block.connector_name,
        slot_name=block.slot_name,
        layout=block.layout(),
        topic_prefix=block.topic_prefix,
        url_env=database.url_env,
        heartbeat_table=f"public.{block.slot_name}_heartbeat",
        heartbeat_interval_ms=plan.system.connect.heartbeat_interval_ms,
        phase=3,
        block="shadow_outbox",
        created_by="the shadow workers create it when they start (`cutover shadow run`)",
    )
