"""Basic auth on the local stack's Kafka Connect REST API (``cutover stack up --connect-auth``).

Turning it on generates a password in ``<state>/secrets/connect.password`` (mode 0600); from
then on every ``stack up`` of that state directory starts the worker with Kafka's
``BasicAuthSecurityRestExtension``: a JAAS file naming its ``PropertyFileLoginModule`` and a
credentials file (``user: password``, mode 0600) under ``<state>/connect/config``. Deleting
the password file (or ``stack down --wipe``) turns it off again. Clients read the
credentials with :func:`credentials`; a team's client reads them from the environment
variable its plan's ``system.connect.auth_env`` names (``user:password``).
"""

from __future__ import annotations

import secrets
from pathlib import Path

from cdc.transport import BasicAuth
from cutover_common.secrets import Secret
from rehearsal.stack.topology import BASIC_AUTH_LOGIN_MODULE, Topology

AUTH_ENV = "CUTOVER_CONNECT_AUTH"
"""The variable the rehearsal's plans name in ``system.connect.auth_env`` (``user:password``)."""


def password_file(topology: Topology) -> Path:
    return topology.state_dir / "secrets" / "connect.password"


def enabled(topology: Topology) -> bool:
    """True when this state directory's worker protects its REST API."""
    return password_file(topology).exists()


def enable(topology: Topology) -> None:
    """Generate the REST password once (a later ``stack up`` keeps it)."""
    path = password_file(topology)
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(secrets.token_urlsafe(18) + "\n")


def credentials(topology: Topology) -> BasicAuth | None:
    """The REST API's credentials, or ``None`` when it is not protected."""
    path = password_file(topology)
    if not path.exists():
        return None
    return BasicAuth(topology.connect.auth_user, Secret(path.read_text().strip()))


def write_worker_files(topology: Topology, config_dir: Path) -> Path:
    """The JAAS file (and the credentials file it names) the worker reads; returns the JAAS
    file's path for ``-Djava.security.auth.login.config``."""
    auth = credentials(topology)
    if auth is None:
        raise ValueError("connect auth is not enabled for this state directory")
    config_dir.mkdir(parents=True, exist_ok=True)
    users = config_dir / "connect-credentials.properties"
    users.touch(mode=0o600)
    users.chmod(0o600)
    users.write_text(f"{auth.username}: {auth.password.reveal()}\n")
    jaas = config_dir / "connect-jaas.conf"
    jaas.write_text(
        f'KafkaConnect {{\n  {BASIC_AUTH_LOGIN_MODULE} required\n  file="{users}";\n}};\n'
    )
    return jaas


def auth_environ(topology: Topology) -> dict[str, str]:
    """``{AUTH_ENV: "user:password"}`` for a client process, empty when auth is off."""
    auth = credentials(topology)
    return {AUTH_ENV: f"{auth.username}:{auth.password.reveal()}"} if auth else {}
