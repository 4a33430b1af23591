"""Change data capture: Kafka Connect REST client, Debezium config builders, event decoding.

* :mod:`cdc.client` — :class:`~cdc.client.ConnectClient` over a transport port
  (:mod:`cdc.transport`: ``requests``; :mod:`cdc.fake`: in memory);
* :mod:`cdc.debezium` — the Debezium Postgres + Outbox Event Router config builder;
* :mod:`cdc.desired` / :mod:`cdc.reconcile` — declarative connectors: diff and apply;
* :mod:`cdc.safety` — refusal of JAAS/JNDI login modules and config providers;
* :mod:`cdc.decode` / :mod:`cdc.outbox` — Debezium change events and routed outbox events;
* :mod:`cdc.health` — :class:`~cdc.health.ConnectorHealth` for the phase gates;
* :mod:`cdc.cli` — ``cutover connectors ...``.

This package knows nothing of the sample's business.
"""
