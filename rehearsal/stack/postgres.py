"""PostgreSQL for the local stack: Debian's binaries, a project-local cluster, logical WAL.

``initdb`` and ``pg_ctl`` run as the ``postgres`` user when cutover runs as
root (PostgreSQL refuses to run as root), directly otherwise.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from rehearsal.stack.endpoints import load_endpoints, password_file
from rehearsal.stack.errors import CorruptStateError, PostgresInstallError, StackError
from rehearsal.stack.process import ensure_port_free, port_open, tail, wait_until
from rehearsal.stack.topology import Topology

PG_ROOT = Path("/usr/lib/postgresql")
SERVICE_USER = "postgres"


@dataclass(frozen=True, slots=True)
class PostgresPaths:
    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"


def paths(topology: Topology) -> PostgresPaths:
    return PostgresPaths(topology.state_dir / "postgres")


def find_bindir(min_major: int) -> Path | None:
    """Newest ``/usr/lib/postgresql/N/bin`` with N >= ``min_major`` holding initdb and pg_ctl."""
    found = []
    for bindir in PG_ROOT.glob("*/bin"):
        if (
            bindir.parent.name.isdigit()
            and (bindir / "initdb").exists()
            and (bindir / "pg_ctl").exists()
        ):
            found.append((int(bindir.parent.name), bindir))
    found = [f for f in found if f[0] >= min_major]
    return max(found)[1] if found else None


def install_binaries(min_major: int) -> Path:
    """Find the server binaries, installing Debian's ``postgresql`` package when missing."""
    bindir = find_bindir(min_major)
    if bindir is not None:
        return bindir
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise PostgresInstallError("not root or no apt-get, so cannot install the package")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "postgresql"]):
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        if proc.returncode != 0:
            raise PostgresInstallError(f"`{' '.join(argv)}` failed: {proc.stderr.strip()[-300:]}")
    bindir = find_bindir(min_major)
    if bindir is None:
        raise PostgresInstallError(f"the installed package has no server of version >= {min_major}")
    return bindir


def _as_service_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", SERVICE_USER, "--", *argv] if os.geteuid() == 0 else argv


def _give_to_service_user(path: Path) -> None:
    """chown ``path`` (recursively) to postgres and let it traverse the ancestors."""
    if os.geteuid() != 0:
        return
    subprocess.run(["chown", "-R", f"{SERVICE_USER}:", str(path)], check=True)
    _let_service_user_traverse(path)


def _let_service_user_traverse(path: Path) -> None:
    """Add the search bit (never read) to ancestors of ``path`` that lack it for others,
    so the postgres user reaches its data under a private folder (a 0700 temp dir)."""
    if os.geteuid() != 0:
        return
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def _run(argv: list[str], what: str) -> str:
    proc = subprocess.run(_as_service_user(argv), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise StackError(
            f"{what} failed (exit {proc.returncode}): {(proc.stderr or proc.stdout).strip()[-500:]}"
        )
    return proc.stdout


def check_state(topology: Topology) -> bool:
    """True when a cluster exists; raises :class:`CorruptStateError` on a broken one."""
    return _check_data_dir(topology, paths(topology))


def _check_data_dir(topology: Topology, pp: PostgresPaths) -> bool:
    """True when a cluster exists; raises :class:`CorruptStateError` on a broken one."""
    if not pp.data.exists() or not any(pp.data.iterdir()):
        return False
    version_file = pp.data / "PG_VERSION"
    if not version_file.exists():
        raise CorruptStateError("postgres", str(pp.data), "PG_VERSION is missing")
    major = version_file.read_text().strip()
    if not re.fullmatch(r"\d+", major):
        raise CorruptStateError("postgres", str(pp.data), f"PG_VERSION holds {major!r}")
    if not password_file(topology).exists():
        raise CorruptStateError("postgres", str(pp.data), "the generated password file is missing")
    return True


def _initdb(topology: Topology, pp: PostgresPaths, bindir: Path) -> None:
    pw_path = password_file(topology)
    pw_path.parent.mkdir(parents=True, exist_ok=True)
    pw_path.write_text(secrets.token_urlsafe(18) + "\n")
    pw_path.chmod(0o600)
    pp.data.mkdir(parents=True, exist_ok=True)
    pp.run.mkdir(parents=True, exist_ok=True)
    pw_copy = pp.root / ".initdb-pw"
    shutil.copyfile(pw_path, pw_copy)
    _give_to_service_user(pp.root)
    try:
        _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(pp.data),
                "-U",
                topology.postgres.user,
                f"--pwfile={pw_copy}",
                "--auth-host=scram-sha-256",
                "--auth-local=peer",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
            "initdb",
        )
    finally:
        pw_copy.unlink(missing_ok=True)
    settings = {
        **topology.postgres.server_settings(),
        "listen_addresses": f"'{topology.host}'",
        "port": str(topology.postgres.port),
        "unix_socket_directories": f"'{pp.run}'",
        "password_encryption": "scram-sha-256",
        "wal_level": topology.postgres.wal_level,
    }
    with (pp.data / "postgresql.conf").open("a") as conf:
        conf.write("\n# cutover local stack\n")
        conf.writelines(f"{k} = {v}\n" for k, v in settings.items())
    with (pp.data / "pg_hba.conf").open("a") as hba:
        hba.write("host replication all 127.0.0.1/32 scram-sha-256\n")


def _alive(pid: int) -> bool:
    """True for a live (not zombie) process whose command line is a postgres server."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, IndexError):
        return False
    return state != "Z" and b"postgres" in cmdline


def running(bindir: Path | None, pp: PostgresPaths) -> bool:
    """True when the cluster's postmaster is alive."""
    pid = postmaster_pid(pp)
    return pid is not None and _alive(pid)


def _clear_stale_lock(pp: PostgresPaths) -> None:
    """Remove ``postmaster.pid`` left by a killed postmaster.

    Where nothing reaps orphans (a container whose PID 1 does not), a killed
    postmaster stays a zombie, and PostgreSQL takes the zombie's pid for a
    running server and refuses to start. A dead or zombie pid is not a server.
    """
    for lock in [pp.data / "postmaster.pid", *pp.run.glob(".s.PGSQL.*.lock")]:
        try:
            pid = int(lock.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            continue
        if not _alive(pid):
            lock.unlink(missing_ok=True)


def postmaster_pid(pp: PostgresPaths) -> int | None:
    try:
        return int((pp.data / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def healthy(topology: Topology) -> bool:
    """True when the cutover database answers ``select 1`` over TCP with the password."""
    ep = load_endpoints(topology)
    try:
        with psycopg.connect(ep.dsn("postgres"), connect_timeout=2) as conn:
            return conn.execute("select 1").fetchone() == (1,)
    except psycopg.Error:
        return False


def start(topology: Topology, timeout: float = 60.0) -> bool:
    """Start the cluster (initdb on first use); returns False when it was already running."""
    pp = paths(topology)
    bindir = install_binaries(topology.postgres_major)
    exists = _check_data_dir(topology, pp)
    if running(bindir, pp):
        return False
    ensure_port_free("postgres", topology.host, topology.postgres.port)
    if not exists:
        _initdb(topology, pp, bindir)
    _clear_stale_lock(pp)
    _give_to_service_user(pp.root)
    _pg_ctl_start(bindir, pp, timeout)
    wait_until("postgres", lambda: healthy(topology), timeout=timeout, log_file=pp.log)
    _ensure_database(topology)
    return True


def _pg_ctl_start(bindir: Path, pp: PostgresPaths, timeout: float) -> None:
    """``pg_ctl start``, retried while the children of a killed postmaster still hold
    its shared memory (they exit within seconds of noticing their parent is gone)."""
    argv = [
        str(bindir / "pg_ctl"),
        "-D",
        str(pp.data),
        "-l",
        str(pp.log),
        "-w",
        "-t",
        str(int(timeout)),
        "start",
    ]
    for attempt in range(10):
        try:
            _run(argv, "pg_ctl start")
            return
        except StackError:
            if attempt == 9 or "pre-existing shared memory block" not in tail(pp.log, 5):
                raise
            time.sleep(1.0)


def _ensure_database(topology: Topology) -> None:
    ep = load_endpoints(topology)
    with psycopg.connect(ep.dsn("postgres"), autocommit=True) as conn:
        row = conn.execute(
            "select 1 from pg_database where datname = %s", (ep.pg_database,)
        ).fetchone()
        if row is None:
            conn.execute(f'create database "{ep.pg_database}"')


def stop(topology: Topology, timeout: float = 60.0) -> bool:
    """Stop the cluster (fast shutdown); returns False when it was not running."""
    pp = paths(topology)
    bindir = find_bindir(topology.postgres_major)
    if bindir is None or not running(bindir, pp):
        return False
    _let_service_user_traverse(pp.data)
    _run(
        [
            str(bindir / "pg_ctl"),
            "-D",
            str(pp.data),
            "-m",
            "fast",
            "-w",
            "-t",
            str(int(timeout)),
            "stop",
        ],
        "pg_ctl stop",
    )
    return True


def is_up(topology: Topology) -> bool:
    pp = paths(topology)
    return running(None, pp) and port_open(topology.host, topology.postgres.port)


def log_tail(topology: Topology, lines: int) -> str:
    return tail(paths(topology).log, lines)
