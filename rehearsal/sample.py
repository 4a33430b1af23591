"""The sample monolith's rehearsal adapter (``legacy_app``): the rehearsal's default system.

Everything the rehearsal knows of the sample is here, behind the same
:class:`rehearsal.system.System` interface any team's system implements: its plan template
(one ``order`` context, its outcome sources :mod:`rehearsal.sources`, compare rules and
invariants), its five services (:mod:`legacy_app.runner`), its order traffic
(:mod:`rehearsal.traffic`), its downstream faults (``CUTOVER_FAULT_<SERVICE>_*``), its shadow
app (the order flow) and how far the shadow store has come.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import psycopg

from cutover_common.secrets import Secret
from rehearsal.errors import RehearsalError
from rehearsal.sources import COMPARE_RULES, DATABASE_ENV, INVARIANTS
from rehearsal.stack.connect_auth import AUTH_ENV
from rehearsal.stack.process import port_open
from rehearsal.stack.topology import ConnectSettings
from rehearsal.system import RunNames
from rehearsal.traffic import TrafficReport

SAMPLE_APP = "legacy_app.orderflow.app:app"
"""The sample's order flow, a shadow app like any team's."""
SAMPLE_CONTRACTS = Path(__file__).resolve().parents[1] / "legacy_app" / "contracts"
"""The sample's event contracts, named by the plan like any team's (docs/contracts.md)."""
SCENARIOS = Path(__file__).resolve().parent / "scenarios"
DUAL_MIN_MATCH_RATE = 0.97  # the dual-write gate's, also the rollback drill's
ASYNC_MIN_MATCH_RATE = 0.95  # the async gate's (the reverse comparison)


class AppPortBusyError(RehearsalError):
    """Raised when a port of the sample app is taken (often a rehearsal kept with --keep)."""

    def __init__(self, service: str, port: int) -> None:
        self.service = service
        self.port = port
        super().__init__(
            f"port {port} of the sample app's {service} service is already in use",
            hint="stop it: a rehearsal kept with --keep runs until `cutover rehearse --cleanup`",
        )


def fault_env(
    current: Mapping[str, str], service: str, error_rate: float, *, timeout_rate: float = 0.0
) -> dict[str, str]:
    """The sample's fault settings with ``service``'s replaced (pure): its
    ``CUTOVER_FAULT_<SERVICE>_ERROR_RATE``/``_DELAY_RATE``, none when both rates are 0; the
    other services' settings kept."""
    prefix = f"CUTOVER_FAULT_{service.upper()}_"
    env = {k: v for k, v in current.items() if not k.startswith(prefix)}
    if error_rate or timeout_rate:
        env[f"{prefix}ERROR_RATE"] = str(error_rate)
        env[f"{prefix}DELAY_RATE"] = str(timeout_rate)
    return env


class SampleSystem:
    """The sample monolith as a rehearsal sees it (see the module)."""

    name = "sample"
    database_env = DATABASE_ENV
    shadow_app = SAMPLE_APP
    # the order flow only: one process per worker, so kill -9 kills all of it
    shadow_args: tuple[str, ...] = ("--consumer", "flow")
    contexts: tuple[str, ...] = ("order",)
    services: tuple[str, ...] = ("inventory", "payment", "shipping", "email")
    default_scenario = SCENARIOS / "default.yaml"

    def __init__(self) -> None:
        self._fault_env: dict[Path, dict[str, str]] = {}

    # -- the plan ----------------------------------------------------------------------------
    def topics(self, prefix: str) -> tuple[str, ...]:
        return (f"{prefix}.order",)

    def plan_document(self, names: RunNames) -> dict[str, Any]:
        ctx = self.contexts[0]
        compare = {**COMPARE_RULES, "settle_seconds": 3}
        return {
            "version": 1,
            "system": {
                "database": {"url_env": DATABASE_ENV},
                "kafka": {
                    "bootstrap_servers": names.bootstrap_servers,
                    "topic_prefix": names.prefix,
                },
                "connect": {
                    "url": names.connect_url,
                    "auth_env": AUTH_ENV,
                    "connector_name": names.connector_name,
                    "slot_name": names.slot_name,
                    "heartbeat_interval_ms": 2000,
                },
            },
            # the worker resolves the password from its environment: Connect never holds it
            "connectors": {"outbox": {"password_ref": ConnectSettings().password_ref()}},
            "auto_revert": True,
            "reports_dir": names.reports_dir,
            "contexts": {
                ctx: {
                    "tables": ["customers", "orders", "order_items", "outbox"],
                    "aggregate": "order",
                    "topic": {"name": self.topics(names.prefix)[0], "partitions": 6},
                    "events": ["order.created", "order.completed", "order.failed"],
                    "consumer_group": names.consumer_group,
                    "shadow": {"app": SAMPLE_APP, "options": dict(names.shadow_options)},
                    "outcome": {
                        "key": "order_id",
                        "sync_callable": "rehearsal.sources:sync_outcomes",
                        "event_callable": "rehearsal.sources:event_outcomes",
                        "verify_callable": "rehearsal.sources:verify_outcomes",
                        "async_event_callable": "rehearsal.sources:async_event_outcomes",
                    },
                    "compare": compare,
                    "invariants": INVARIANTS,
                }
            },
            "gates": {
                "identify": {"require_outcome_queries": True},
                "broker": {
                    "max_canary_ms": 20000,
                    "max_heartbeat_age_ms": 60000,
                    "require_slot_active": True,
                },
                "dual_write": {
                    "min_settled_keys": names.min_settled_keys,
                    "min_match_rate": DUAL_MIN_MATCH_RATE,
                    "warn_match_rate": 0.95,
                    "max_missing": 0,
                    "max_divergent": 0,
                    "max_duplicate": 0,
                    "max_lag_ms": 10000,
                    "max_lag_messages": 0,
                    "max_dead_lettered": names.max_dead_lettered,
                    "on_fail": "revert",
                },
                "async": {
                    "min_settled_keys": names.min_settled_keys // 2,
                    "max_left_out_share": names.max_left_out_share,
                    "min_match_rate": ASYNC_MIN_MATCH_RATE,
                    "warn_match_rate": 0.93,
                    "max_missing": 0,
                    "max_divergent": 0,
                    "max_duplicate": 0,
                    "max_lag_ms": 10000,
                    "max_lag_messages": 0,
                    "max_dead_lettered": names.max_dead_lettered,
                    "drill_min_settled_keys": 10,
                    "on_fail": "revert",
                },
                "remove_sync": {
                    "max_sync_calls": 0,
                    "require_invariants": True,
                    "on_fail": "revert",
                },
            },
            "rollout_order": [ctx],
            "contracts": {"dir": str(SAMPLE_CONTRACTS)},
        }

    # -- processes ---------------------------------------------------------------------------
    def _spec(self, run_dir: Path, database_url: str, names: RunNames) -> Any:
        from legacy_app.config import DEFAULT_PORTS
        from legacy_app.runner import RunSpec

        return RunSpec(
            run_dir=run_dir / "app",
            ports=dict(names.ports) or dict(DEFAULT_PORTS),
            database_url=Secret(database_url),
            host=names.host,
            env={
                "CUTOVER_KAFKA_BOOTSTRAP_SERVERS": names.bootstrap_servers,
                "CUTOVER_OUTBOX_TOPIC_PREFIX": names.prefix,
                **self._fault_env.get(run_dir, {}),
            },
        )

    def start(
        self,
        run_dir: Path,
        database_url: str,
        names: RunNames,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """Schema, seed, and the five services (``env``: fault settings, ``{}`` none)."""
        from legacy_app.runner import start_services

        self._fault_env[run_dir] = dict(env or {})
        spec = self._spec(run_dir, database_url, names)
        for service, port in spec.ports.items():
            if port_open(names.host, port):
                raise AppPortBusyError(service, port)
        start_services(spec)

    def stop(self, run_dir: Path) -> None:
        from legacy_app.runner import stop_services

        if (run_dir / "app").exists():
            stop_services(run_dir / "app")

    def fault(
        self,
        run_dir: Path,
        database_url: str,
        names: RunNames,
        service: str,
        error_rate: float,
        *,
        timeout_rate: float = 0.0,
    ) -> str:
        """Restart only ``service``: ``error_rate`` of its requests answered 500,
        ``timeout_rate`` held for the service's delay (5 s, over the callers' 2 s read
        timeout) before any work; both 0 takes the fault back."""
        from legacy_app.runner import restart_service

        current = fault_env(
            self._fault_env.get(run_dir, {}), service, error_rate, timeout_rate=timeout_rate
        )
        self._fault_env[run_dir] = current
        restart_service(self._spec(run_dir, database_url, names), service)
        return (
            f"{service}: {error_rate:.0%} HTTP 500s, {timeout_rate:.0%} timeouts "
            f"(only {service} restarted)"
        )

    def shadow_env(self, names: RunNames) -> dict[str, str]:
        bug = names.shadow_options.get("bug")
        return {"CUTOVER_SHADOW_BUG": bug} if bug else {}

    def traffic(
        self,
        names: RunNames,
        *,
        seed: int,
        rate: float,
        seconds: float,
        concurrency: int,
        on_sample: Callable[[Any], None] | None = None,
    ) -> TrafficReport:
        """Seeded order traffic against the order service at ``rate`` for ``seconds``."""
        from legacy_app.config import DEFAULT_PORTS
        from rehearsal.traffic import TrafficConfig, run_traffic

        port = (dict(names.ports) or DEFAULT_PORTS)["order"]
        config = TrafficConfig(
            base_url=f"http://{names.host}:{port}",
            rate=rate,
            duration=seconds,
            concurrency=concurrency,
            seed=seed,
            run_id=f"{names.prefix}b{seed}",
        )
        return run_traffic(config, on_sample=on_sample)

    def progress(self, dsn: str) -> tuple[int, int]:
        """(orders written to the legacy outbox, orders the shadow store has finished)."""
        with psycopg.connect(dsn, autocommit=True) as conn:
            expected = conn.execute(
                "select count(*) from outbox where type = 'order.created'"
            ).fetchone()
            try:
                done = conn.execute(
                    "select count(*) from shadow.order_status where finished_at is not null"
                ).fetchone()
            except psycopg.Error:
                done = (0,)
        return int(expected[0] if expected else 0), int(done[0] if done else 0)


SYSTEM = SampleSystem()
"""The adapter ``cutover rehearse`` loads when no ``--system`` is given."""
