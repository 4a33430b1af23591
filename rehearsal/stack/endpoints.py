"""Where the running local stack answers, for tests, the rehearsal and the CLI.

The database password is generated on first ``cutover stack up`` and kept in
``<state>/secrets/postgres.password`` (mode 0600); it is wrapped in a
:class:`~cutover_common.secrets.Secret` so it never prints. Connectors name it by
:attr:`Endpoints.connector_password`, a reference the Connect worker resolves from its own
environment, so Connect never holds it; :attr:`Endpoints.connect_auth` is the REST API's
basic auth when the stack protects it (``cutover stack up --connect-auth``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cdc.debezium import PasswordRef
from cdc.transport import BasicAuth
from cutover_common.secrets import Secret
from rehearsal.stack import connect_auth
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

    def connect_client(self) -> ConnectClient:
        """A Connect REST client with the stack's credentials (when it asks for them)."""
        from cdc.client import ConnectClient

        return ConnectClient.from_url(self.connect_url, auth=self.connect_auth)

    def database_url(
        self, database: str | None = None, *, driver: str = "postgresql+psycopg"
    ) -> str:
        """SQLAlchemy URL (contains the password: never log it; use :meth:`safe_database_url`)."""
        db = database or self.pg_database
        return (
            f"{driver}://{self.pg_user}:{self.pg_password.reveal()}@{self.host}:{self.pg_port}/{db}"
        )

    def dsn(self, database: str | None = None) -> str:
        """libpq/psycopg connection string (contains the password)."""
        db = database or self.pg_database
        return (
            f"host={self.host} port={self.pg_port} user={self.pg_user} "
            f"password={self.pg_password.reveal()} dbname={db}"
        )

    def safe_database_url(self, database: str | None = None) -> str:
        """The database URL with the password masked, for display."""
        db = database or self.pg_database
        return f"postgresql://{self.pg_user}:***@{self.host}:{self.pg_port}/{db}"


def password_file(topology: Topology) -> Path:
    return topology.state_dir / "secrets" / "postgres.password"


def load_endpoints(topology: Topology | None = None) -> Endpoints:
    """Endpoints of the stack described by ``topology`` (default: :func:`load_topology`)."""
    topo = topology or load_topology()
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
