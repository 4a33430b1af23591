"""Where the running local stack answers, for tests, the rehearsal and the CLI.

The database password is generated on first ``cutover stack up`` and kept in
``<state>/secrets/postgres.password`` (mode 0600); it is wrapped in a
:class:`~cutover_common.secrets.Secret` so it never prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cutover_common.secrets import Secret
from rehearsal.stack.topology import Topology, load_topology


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
    )
