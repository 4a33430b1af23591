"""Where the running local stack answers, for tests, the rehearsal and the CLI.

The database password is generated on first ``cutover stack up`` and kept in
``<state>/secrets/postgres.password`` (mode 0600); it is wrapped in a
:class:`~cutover_common.secrets.Secret` so it never prints. Connectors name it by
:attr:`Endpoints.connector_password`, a reference the Connect worker resolves from its own
environment, so Connect never holds it; :attr:`Endpoints.connect_auth` is the REST API's
basic auth when the stack protects it (``cutover stack up --connect-auth``).

With ``CUTOVER_STACK=external`` (:data:`cutover_common.config.STACK`) the stack is one
cutover does not run — docker compose's, or a team's own — and :func:`load_endpoints`
builds the endpoints from the environment instead: ``CUTOVER_PG_HOST/PORT/USER/DATABASE``,
``CUTOVER_KAFKA_BOOTSTRAP_SERVERS``, ``CUTOVER_CONNECT_URL`` (and the variable
``CUTOVER_CONNECT_AUTH_ENV`` names, else ``CUTOVER_CONNECT_AUTH``, for Connect's basic auth).
The password is libpq's ``PGPASSWORD`` — then no URL or DSN built here carries it, libpq
reads it from the environment the rehearsal's processes inherit — else the content of the
file ``CUTOVER_PG_PASSWORD_FILE`` names (kept in memory only). Connectors still name
``${env:CUTOVER_PG_PASSWORD}``: the Connect worker resolves it from its own environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cdc.debezium import PasswordRef
from cdc.transport import BasicAuth
from cutover_common.config import (
    CONNECT_AUTH_ENV,
    CONNECT_URL,
    KAFKA_BOOTSTRAP_SERVERS,
    PG_DATABASE,
    PG_HOST,
    PG_PASSWORD_FILE,
    PG_PORT,
    PG_USER,
    STACK,
)
from cutover_common.secrets import Secret
from rehearsal.stack import connect_auth
from rehearsal.stack.errors import ExternalStackError
from rehearsal.stack.topology import ConnectSettings, Topology, load_topology

if TYPE_CHECKING:
    from cdc.client import ConnectClient


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Addresses and credentials of the running stack."""

    host: str
    pg_port: int
    pg_user: str
    pg_database: str
    pg_password: Secret
    bootstrap_servers: str
    connect_url: str
    connect_auth: BasicAuth | None = None
    connector_password: PasswordRef = field(
        default_factory=lambda: PasswordRef.parse(ConnectSettings().password_ref())
    )
    password_from_env: bool = False
    """libpq reads the password from ``PGPASSWORD``: no URL or DSN built here carries one."""

    def connect_client(self) -> ConnectClient:
        """A Connect REST client with the stack's credentials (when it asks for them)."""
        from cdc.client import ConnectClient

        return ConnectClient.from_url(self.connect_url, auth=self.connect_auth)

    def database_url(
        self, database: str | None = None, *, driver: str = "postgresql+psycopg"
    ) -> str:
        """SQLAlchemy URL (contains the password: never log it; use :meth:`safe_database_url`)."""
        db = database or self.pg_database
        user = (
            self.pg_user
            if self.password_from_env
            else f"{self.pg_user}:{self.pg_password.reveal()}"
        )
        return f"{driver}://{user}@{self.host}:{self.pg_port}/{db}"

    def dsn(self, database: str | None = None) -> str:
        """libpq/psycopg connection string (contains the password)."""
        db = database or self.pg_database
        password = "" if self.password_from_env else f"password={self.pg_password.reveal()} "
        return f"host={self.host} port={self.pg_port} user={self.pg_user} {password}dbname={db}"

    def safe_database_url(self, database: str | None = None) -> str:
        """The database URL with the password masked, for display."""
        db = database or self.pg_database
        return f"postgresql://{self.pg_user}:***@{self.host}:{self.pg_port}/{db}"


def password_file(topology: Topology) -> Path:
    return topology.state_dir / "secrets" / "postgres.password"


LOCAL = "local"
EXTERNAL = "external"
LIBPQ_PASSWORD_ENV = "PGPASSWORD"  # noqa: S105 - libpq's variable's name
"""Where libpq (psycopg, SQLAlchemy, ``psql``) takes the password no URL carries."""
EXTERNAL_REQUIRED = (PG_HOST, PG_USER, PG_DATABASE, KAFKA_BOOTSTRAP_SERVERS, CONNECT_URL)
"""What ``CUTOVER_STACK=external`` cannot do without (the port defaults to 5432)."""
DEFAULT_PG_PORT = 5432


def stack_mode(environ: Mapping[str, str] | None = None) -> str:
    """:data:`LOCAL` or :data:`EXTERNAL`, from ``CUTOVER_STACK`` (default ``local``)."""
    mode = (STACK.get(os.environ if environ is None else environ) or LOCAL).lower()
    if mode not in (LOCAL, EXTERNAL):
        raise ExternalStackError(f"{STACK.name}={mode!r} is neither {LOCAL!r} nor {EXTERNAL!r}")
    return mode


def is_external(environ: Mapping[str, str] | None = None) -> bool:
    """True when the stack is one cutover does not start or stop (``CUTOVER_STACK=external``)."""
    return stack_mode(environ) == EXTERNAL


def load_endpoints(
    topology: Topology | None = None, environ: Mapping[str, str] | None = None
) -> Endpoints:
    """Endpoints of the stack: with ``CUTOVER_STACK=external`` those ``environ`` (default
    ``os.environ``) names (:func:`external_endpoints`), else the local one ``topology``
    describes (default: :func:`load_topology`)."""
    env = os.environ if environ is None else environ
    topo = topology or load_topology()
    if is_external(env):
        return external_endpoints(env, topo)
    pw_path = password_file(topo)
    password = pw_path.read_text().strip() if pw_path.exists() else ""
    return Endpoints(
        host=topo.host,
        pg_port=topo.postgres.port,
        pg_user=topo.postgres.user,
        pg_database=topo.postgres.database,
        pg_password=Secret(password),
        bootstrap_servers=topo.bootstrap_servers,
        connect_url=topo.connect_url,
        connect_auth=connect_auth.credentials(topo),
        connector_password=PasswordRef.parse(topo.connect.password_ref()),
    )


def external_endpoints(environ: Mapping[str, str], topology: Topology | None = None) -> Endpoints:
    """Endpoints of an external stack from ``environ``; :class:`ExternalStackError` names
    every missing variable (and the password's two sources when neither is set)."""
    topo = topology or Topology()
    missing = [s.name for s in EXTERNAL_REQUIRED if s.get(environ) is None]
    password, from_env = _external_password(environ)
    if password is None:
        missing.append(f"{LIBPQ_PASSWORD_ENV} (or {PG_PASSWORD_FILE.name}, a file holding it)")
    if missing:
        raise ExternalStackError(f"not set: {', '.join(missing)}")
    return Endpoints(
        host=str(PG_HOST.get(environ)),
        pg_port=_port(PG_PORT.get(environ)),
        pg_user=str(PG_USER.get(environ)),
        pg_database=str(PG_DATABASE.get(environ)),
        pg_password=Secret(password or ""),
        bootstrap_servers=str(KAFKA_BOOTSTRAP_SERVERS.get(environ)),
        connect_url=str(CONNECT_URL.get(environ)).rstrip("/"),
        connect_auth=_external_connect_auth(environ),
        connector_password=PasswordRef.parse(topo.connect.password_ref()),
        password_from_env=from_env,
    )


def _external_password(environ: Mapping[str, str]) -> tuple[str | None, bool]:
    """(the password, whether it came from ``PGPASSWORD``); ``None`` when neither is set."""
    if environ.get(LIBPQ_PASSWORD_ENV):
        return environ[LIBPQ_PASSWORD_ENV], True
    name = PG_PASSWORD_FILE.get(environ)
    if name is None:
        return None, False
    try:
        password = Path(name).read_text().strip()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ExternalStackError(
            f"{PG_PASSWORD_FILE.name} names {name}, which cannot be read: {reason}"
        ) from None
    if not password:
        raise ExternalStackError(f"{PG_PASSWORD_FILE.name} names {name}, which is empty")
    return password, False


def _port(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PG_PORT
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ExternalStackError(f"{PG_PORT.name}={raw!r} is not a port number")
    return int(raw)


def _external_connect_auth(environ: Mapping[str, str]) -> BasicAuth | None:
    """Connect's basic auth from the variable ``CUTOVER_CONNECT_AUTH_ENV`` names (which must
    be set), else from ``CUTOVER_CONNECT_AUTH`` when set; ``None``: the API is open."""
    named = CONNECT_AUTH_ENV.get(environ)
    value = environ.get(named or connect_auth.AUTH_ENV, "")
    if named and not value:
        raise ExternalStackError(f"{CONNECT_AUTH_ENV.name} names {named}, which is not set")
    return BasicAuth.parse(value) if value else None
