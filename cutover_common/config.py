"""cutover's configuration: every ``CUTOVER_*`` environment variable, one name per setting.

Each :class:`Setting` has its name, its default (``None``: no default, the value must be
given) and its meaning. Library code reads a setting with :meth:`Setting.get` from the mapping
it was handed (``os.environ`` at the edge, a dict in tests); it never falls back to the local
stack's addresses: the rehearsal passes those explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Setting:
    """One ``CUTOVER_*`` environment variable."""

    name: str
    default: str | None
    meaning: str

    def get(self, environ: Mapping[str, str], given: str | None = None) -> str | None:
        """``given`` (a flag) if set, else the variable if set and not blank, else the default."""
        if given:
            return given
        return environ.get(self.name, "").strip() or self.default


KAFKA_BOOTSTRAP_SERVERS = Setting(
    "CUTOVER_KAFKA_BOOTSTRAP_SERVERS",
    None,
    "Kafka bootstrap servers (host:port,...) of the cluster the events go to",
)
CONNECT_URL = Setting(
    "CUTOVER_CONNECT_URL",
    None,
    "Kafka Connect REST URL (http://host:port) where the Debezium connector runs; "
    "`cutover connectors` (--url) falls back to LOCAL_CONNECT_URL, `cutover discover` and "
    "an external stack have no default",
)
LOCAL_CONNECT_URL = "http://127.0.0.1:8083"
"""Kafka Connect's own REST port on this machine: what ``cutover connectors`` talks to when
neither ``--url`` nor ``CUTOVER_CONNECT_URL`` names a worker (a stack on other ports sets
``CUTOVER_CONNECT_URL``; the rehearsal passes its own)."""
CONNECT_AUTH_ENV = Setting(
    "CUTOVER_CONNECT_AUTH_ENV",
    None,
    "name of the environment variable holding Kafka Connect's basic auth as user:password "
    "(`cutover connectors --auth-env`; a plan names it in system.connect.auth_env); the "
    "credentials themselves are never a flag, a plan value or a log line",
)

STACK = Setting(
    "CUTOVER_STACK",
    "local",
    "which stack the rehearsal and `cutover stack` use: `local` (the processes `cutover stack "
    "up` starts, addresses from the topology) or `external` (a running stack they never start "
    "or stop — docker compose's or your own — at the CUTOVER_PG_*, "
    "CUTOVER_KAFKA_BOOTSTRAP_SERVERS and CUTOVER_CONNECT_URL addresses)",
)
PG_HOST = Setting("CUTOVER_PG_HOST", None, "external stack: the PostgreSQL server's host")
PG_PORT = Setting(
    "CUTOVER_PG_PORT",
    None,
    "PostgreSQL's port: the external stack's (default 5432), or the local stack's (54320)",
)
PG_USER = Setting("CUTOVER_PG_USER", None, "external stack: the PostgreSQL user")
PG_DATABASE = Setting(
    "CUTOVER_PG_DATABASE", None, "external stack: the database the user connects to first"
)
PG_PASSWORD_FILE = Setting(
    "CUTOVER_PG_PASSWORD_FILE",
    None,
    "external stack: a file holding the PostgreSQL password, read when libpq's PGPASSWORD "
    "is not set (the password itself is never a CUTOVER_* value)",
)

SHADOW_METRICS_HOST = Setting(
    "CUTOVER_SHADOW_METRICS_HOST",
    "127.0.0.1",
    "address the shadow workers' Prometheus metrics listen on (--metrics-port); 0.0.0.0 "
    "inside a container, so the metrics can be scraped from outside it",
)

SHADOW_BOOTSTRAP = Setting(
    "CUTOVER_SHADOW_BOOTSTRAP",
    "127.0.0.1:9092",
    "Kafka bootstrap servers the shadow workers read from (`cutover shadow --bootstrap`; with "
    "--plan/--context the plan's system.kafka.bootstrap_servers); default: Kafka's own port "
    "on this machine",
)
SHADOW_DSN = Setting(
    "CUTOVER_SHADOW_DSN",
    None,
    "the shadow store's database, a libpq DSN or postgresql:// URL (`cutover shadow --dsn`); "
    "no default: it must be given. Leave the password out of it: libpq reads PGPASSWORD",
)

SETTINGS: tuple[Setting, ...] = (
    KAFKA_BOOTSTRAP_SERVERS,
    CONNECT_URL,
    CONNECT_AUTH_ENV,
    STACK,
    PG_HOST,
    PG_PORT,
    PG_USER,
    PG_DATABASE,
    PG_PASSWORD_FILE,
    SHADOW_BOOTSTRAP,
    SHADOW_DSN,
    SHADOW_METRICS_HOST,
)
"""Every setting this module declares, for documentation and checks."""
