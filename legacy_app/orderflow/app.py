"""The sample's order flow as a shadow app: ``cutover shadow run --app legacy_app.orderflow.app:app``.

Two advanced consumers, registered through the public ``cutover.shadow`` API like any
team's (:meth:`cutover.shadow.ShadowApp.consumer`):

* ``flow`` — the order flow (choreography of the selected contexts, or the saga), in the
  consumer group ``<group>`` itself; its effects follow each event's mode: recorded in
  ``dual``, performed over HTTP on the downstream services in ``async``/``events-only``;
* ``analytics`` — orders, quantity and revenue per product per minute, in ``<group>.analytics``.

Options (``--option key=value``, ``CUTOVER_SHADOW_OPTION_<KEY>``, or the plan's
``shadow.options``):

* ``coordination`` — ``choreography`` (default) or ``saga``; ``CUTOVER_SHADOW_COORDINATION``
  is honoured too;
* ``contexts`` — the flow's contexts, comma-separated (default all five);
* ``bug`` — a deliberately wrong handler (:mod:`.bugs`), negative rehearsals only;
  ``CUTOVER_SHADOW_BUG`` is honoured too;
* ``<service>_url`` — a downstream's base URL (``inventory_url``, ``payment_url``,
  ``shipping_url``, ``email_url``; default the local ports);
* ``write_behind`` — ``false`` writes each batch before reading the next.

Each consumer's store is the flow's PostgreSQL store (its tables in the context's shadow
schema, seeded with the sample catalogue's stock).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from cutover.shadow import Consumer, ShadowApp, ShadowConfigError, WorkerContext
from legacy_app.orderflow.bugs import with_bug
from legacy_app.orderflow.catalogue import initial_stock
from legacy_app.orderflow.effects import HttpEffects, RecordingEffects, default_service_urls
from legacy_app.orderflow.processors import (
    FLOW_CONTEXTS,
    AnalyticsProcessor,
    Coordination,
    FlowProcessor,
)
from legacy_app.orderflow.store_pg import PostgresStore

app = ShadowApp("sample", topics=("outbox.event.order",))

ENV_ALIASES: Mapping[str, str] = {
    "coordination": "CUTOVER_SHADOW_COORDINATION",
    "bug": "CUTOVER_SHADOW_BUG",
}
"""Options the sample's workers also take from these (older) variables."""

FALSE = frozenset({"0", "false", "no", "off"})


def option(ctx: WorkerContext, key: str, env: Mapping[str, str] | None = None) -> str | None:
    """``key`` from the context's options, else from its environment alias; empty is unset."""
    value = ctx.options.get(key)
    if not value and key in ENV_ALIASES:
        value = (os.environ if env is None else env).get(ENV_ALIASES[key])
    return value or None


def coordination_of(ctx: WorkerContext, env: Mapping[str, str] | None = None) -> Coordination:
    value = option(ctx, "coordination", env) or Coordination.CHOREOGRAPHY.value
    if value not in {c.value for c in Coordination}:
        raise ShadowConfigError("coordination", f"{value!r} is not choreography or saga")
    return Coordination(value)


def contexts_of(ctx: WorkerContext) -> frozenset[str]:
    value = option(ctx, "contexts")
    if value is None:
        return FLOW_CONTEXTS
    chosen = frozenset(c.strip() for c in value.split(",") if c.strip())
    unknown = chosen - FLOW_CONTEXTS
    if unknown or not chosen:
        raise ShadowConfigError(
            "contexts", f"unknown flow contexts {sorted(unknown)}; known: {sorted(FLOW_CONTEXTS)}"
        )
    return chosen


def service_urls_of(ctx: WorkerContext) -> dict[str, str]:
    urls = default_service_urls()
    for service in urls:
        given = option(ctx, f"{service}_url")
        if given:
            urls[service] = given
    return urls


def writes_behind(ctx: WorkerContext) -> bool:
    value = option(ctx, "write_behind")
    return value is None or value.strip().lower() not in FALSE


def stores(ctx: WorkerContext) -> tuple[PostgresStore, PostgresStore | None]:
    """The consumer's store (schema ensured, stock seeded) and its write-behind writer."""
    store = PostgresStore(ctx.dsn, ctx.schema)
    store.ensure_schema(initial_stock())
    writer = PostgresStore(ctx.dsn, ctx.schema) if writes_behind(ctx) else None
    return store, writer


@app.consumer("flow", group_suffix="")
def flow(ctx: WorkerContext) -> Consumer:
    """The order flow, in the consumer group ``<group>``."""
    processor = FlowProcessor(
        RecordingEffects(),
        contexts=contexts_of(ctx),
        coordination=coordination_of(ctx),
        performing=HttpEffects(service_urls_of(ctx)),
        default_mode=ctx.default_mode,
    )
    wrapped = with_bug(processor, option(ctx, "bug"))
    store, writer = stores(ctx)
    return Consumer(wrapped, store, writer)


@app.consumer("analytics")
def analytics(ctx: WorkerContext) -> Consumer:
    """Orders, quantity and revenue per product per minute, in ``<group>.analytics``."""
    store, writer = stores(ctx)
    return Consumer(AnalyticsProcessor(), store, writer)
