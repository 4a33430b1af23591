"""The plan's connectors as ``cutover connectors diff|apply --plan`` sees them.

:func:`plan_desired` turns the plan's connectors (:mod:`phases.outbox_connectors`: the same
builder ``cutover advance`` uses) into :class:`cdc.desired.DesiredConnector` values;
:func:`merge_desired` adds a desired-connectors file's connectors the plan does not own (one
it owns is refused: it is built only from the plan); :func:`prepare` creates what a
connector needs in its database before it starts (its heartbeat and signal tables) and leaves out a
connector whose outbox table is not there yet (the shadow outbox's, before phase 3).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, create_engine, text

from cdc.desired import DesiredConnector
from cdc.errors import DesiredStateError
from cdc.safety import CONFIG_PROVIDERS
from cutover_common.errors import EnvironmentVariableMissing
from phases.outbox_connectors import (
    OutboxConnector,
    connector_config,
    plan_connectors,
    support_tables_ddl,
)
from phases.plan import Plan


@dataclass(frozen=True, slots=True)
class PlanConnector:
    """A plan-owned connector, its database URL and its desired Connect state."""

    connector: OutboxConnector
    database_url: str
    desired: DesiredConnector


def plan_desired(plan: Plan, env: Mapping[str, str]) -> list[PlanConnector]:
    """Every connector the plan owns, built from the plan alone."""
    out = []
    for connector in plan_connectors(plan):
        url = env.get(connector.url_env)
        if not url:
            raise EnvironmentVariableMissing(
                connector.url_env, named_by=f"the plan's {connector.block} database"
            )
        config = connector_config(connector, url, env)
        # a password reference is the one config provider use the plan makes
        allow = frozenset({CONFIG_PROVIDERS}) if connector.password_ref else frozenset()
        desired = DesiredConnector(connector.name, config, allow=allow)
        out.append(PlanConnector(connector, url, desired))
    return out


def merge_desired(
    owned: Sequence[DesiredConnector], others: Sequence[DesiredConnector], *, source: str
) -> list[DesiredConnector]:
    """The plan's connectors plus a file's others; a file naming a plan-owned one is refused."""
    names = {d.name for d in owned}
    clash = sorted(d.name for d in others if d.name in names)
    if clash:
        raise DesiredStateError(
            source,
            [f"connectors.{n}: owned by the plan (connectors:); remove it here" for n in clash],
        )
    return [*owned, *others]


def prepare(
    connectors: Sequence[PlanConnector],
    *,
    say: Callable[[str], None],
    engine_for: Callable[[str], Engine] = create_engine,
) -> list[PlanConnector]:
    """Create each connector's heartbeat and signal tables (idempotent); keep the ones whose
    outbox table exists."""
    ready = []
    for item in connectors:
        spec = item.connector
        engine = engine_for(item.database_url)
        try:
            with engine.begin() as conn:
                found = conn.execute(text("SELECT to_regclass(:t)"), {"t": spec.layout.qualified})
                if found.scalar() is None:
                    say(
                        f"skipped {spec.name}: {spec.block}.table {spec.layout.table} does not "
                        f"exist yet ({spec.created_by or 'cutover outbox init creates it'})"
                    )
                    continue
                for ddl in support_tables_ddl(spec):
                    conn.execute(text(ddl))
        finally:
            engine.dispose()
        ready.append(item)
    return ready
