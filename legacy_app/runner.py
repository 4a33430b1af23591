"""Running the sample monolith as real processes: one gunicorn per service.

``start_services`` creates the schema, seeds the catalogue, starts a gunicorn
master (one worker, threads) per service with ``CUTOVER_*`` configuration in
its environment, and waits until each answers ``/health``; ``restart_service``
replaces one of them (new settings, e.g. a rehearsal fault) without a gap, leaving
the others running. Pid files, logs and the ports used live under the run directory
(``<state_dir>/app`` for the CLI).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import requests
import structlog

from legacy_app.config import DEFAULT_PORTS, DOWNSTREAMS
from legacy_app.errors import ServiceStartError
from legacy_app.schema import create_all, make_engine
from legacy_app.seed import seed_catalogue
from legacy_app.wsgi import SERVICES

log = structlog.get_logger(__name__)
PACKAGE_ROOT = Path(__file__).resolve().parents[1]


class SecretText(Protocol):
    """A value that shows itself only when asked (e.g. a database URL with its password)."""

    def reveal(self) -> str: ...


@dataclass(frozen=True, slots=True)
class RunSpec:
    """Where and how to run the services."""

    run_dir: Path
    database_url: SecretText
    ports: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    host: str = "127.0.0.1"
    env: Mapping[str, str] = field(default_factory=dict)
    threads: int = 8
    ready_timeout: float = 30.0

    def url(self, service: str) -> str:
        return f"http://{self.host}:{self.ports[service]}"


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    """One service's process and health."""

    service: str
    pid: int | None
    port: int | None
    running: bool
    healthy: bool
    log_path: str


def _pid_file(run_dir: Path, service: str) -> Path:
    return run_dir / f"{service}.pid"


def _alive(pid: int) -> bool:
    try:  # a child of ours that exited is a zombie until reaped
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_pid(run_dir: Path, service: str) -> int | None:
    path = _pid_file(run_dir, service)
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _healthy(url: str, timeout: float = 1.0) -> bool:
    try:
        return requests.get(f"{url}/health", timeout=timeout).status_code == 200
    except requests.RequestException:
        return False


def service_env(spec: RunSpec) -> dict[str, str]:
    """The environment of every service process: database, downstream URLs, extras."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), env.get("PYTHONPATH")]))
    env["CUTOVER_DATABASE_URL"] = spec.database_url.reveal()
    for svc in DOWNSTREAMS:
        env[f"CUTOVER_{svc.upper()}_URL"] = spec.url(svc)
    env.update(spec.env)
    return env


def _port_busy(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


# Idle keep-alive connections live longer than any client's idle gap within a traffic run.
# At gunicorn's default (2 s) the server closed idle connections while clients were sending
# on them: POSTs are never retried, so each such race was a ConnectionError (1-8 a rehearsal).
KEEP_ALIVE_S = 75


def _spawn(spec: RunSpec, service: str, env: dict[str, str], probe_port: int | None = None) -> int:
    """Start one gunicorn master. Its socket is ``SO_REUSEPORT`` so a replacement can bind
    the same port before it goes (see :func:`restart_service`); ``probe_port`` is a second,
    private bind whose ``/health`` answers for this process only."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    log_path = spec.run_dir / f"{service}.log"
    binds = [f"{spec.host}:{spec.ports[service]}"]
    if probe_port is not None:
        binds.append(f"{spec.host}:{probe_port}")
    cmd = [
        str(gunicorn), *(a for b in binds for a in ("--bind", b)), "--reuse-port",
        "--workers", "1", "--worker-class", "gthread", "--threads", str(spec.threads),
        "--timeout", "60", "--graceful-timeout", "5", "--keep-alive", str(KEEP_ALIVE_S),
        "--access-logfile", "-",
        "--log-level", "warning", f'legacy_app.wsgi:create("{service}")',
    ]  # fmt: skip
    with log_path.open("ab") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=spec.run_dir,
            start_new_session=True,
        )
    _pid_file(spec.run_dir, service).write_text(str(proc.pid))
    return proc.pid


def _wait_ready(
    spec: RunSpec, pids: Mapping[str, int], urls: Mapping[str, str] | None = None
) -> None:
    deadline = time.monotonic() + spec.ready_timeout
    waiting = dict(pids)
    while waiting:
        for service, pid in list(waiting.items()):
            if _healthy((urls or {}).get(service) or spec.url(service)):
                waiting.pop(service)
            elif not _alive(pid) or time.monotonic() > deadline:
                reason = "exited at start" if not _alive(pid) else "not healthy in time"
                raise ServiceStartError(service, reason, str(spec.run_dir / f"{service}.log"))
        time.sleep(0.2)


def start_services(spec: RunSpec, *, seed: bool = True) -> list[ServiceStatus]:
    """Create the schema, seed, start every service not already running; wait until healthy."""
    spec.run_dir.mkdir(parents=True, exist_ok=True)
    create_all(spec.database_url.reveal())
    if seed:
        engine = make_engine(spec.database_url.reveal(), pool_size=1)
        try:
            seed_catalogue(engine)
        finally:
            engine.dispose()
    (spec.run_dir / "services.json").write_text(
        json.dumps({"host": spec.host, "ports": dict(spec.ports)}, indent=2)
    )
    env = service_env(spec)
    started: dict[str, int] = {}
    for service in SERVICES:
        pid = _read_pid(spec.run_dir, service)
        if pid is not None and _alive(pid):
            continue
        if _port_busy(spec.host, spec.ports[service]):
            stop_services(spec.run_dir)
            raise ServiceStartError(service, f"port {spec.ports[service]} is busy")
        started[service] = _spawn(spec, service, env)
        log.info("service_started", service=service, pid=started[service], port=spec.ports[service])
    try:
        _wait_ready(spec, started)
    except ServiceStartError:
        stop_services(spec.run_dir)
        raise
    return service_status(spec.run_dir)


def _stop_pid(pid: int, timeout: float) -> None:
    """SIGTERM a service's master (SIGKILL its process group after ``timeout``)."""
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        os.killpg(pid, signal.SIGKILL)
        _alive(pid)


def _stop_one(run_dir: Path, service: str, timeout: float) -> bool:
    """Stop ``service`` if it runs and forget its pid; True when it was running."""
    pid = _read_pid(run_dir, service)
    running = pid is not None and _alive(pid)
    if pid is not None and running:
        _stop_pid(pid, timeout)
    _pid_file(run_dir, service).unlink(missing_ok=True)
    return running


def stop_services(run_dir: Path, *, timeout: float = 10.0) -> list[str]:
    """SIGTERM each running service (SIGKILL after ``timeout``); returns the ones stopped."""
    return [service for service in SERVICES if _stop_one(run_dir, service, timeout)]


def restart_service(spec: RunSpec, service: str, *, timeout: float = 10.0) -> ServiceStatus:
    """Replace one running service by a new process with ``spec``'s environment (new
    settings, e.g. a rehearsal fault), without a gap: the new process binds the same port
    beside the old one (``SO_REUSEPORT``), and only once it answers ``/health`` (on a private
    probe port of its own) is the old one stopped, finishing its requests in flight. The
    other services are not touched. If the new process does not come up healthy it is
    stopped, the old one keeps serving and :class:`ServiceStartError` is raised.
    """
    if service not in SERVICES:
        raise ServiceStartError(service, f"unknown service (have: {', '.join(SERVICES)})")
    spec.run_dir.mkdir(parents=True, exist_ok=True)
    old = _read_pid(spec.run_dir, service)
    probe = _free_port(spec.host)
    pid = _spawn(spec, service, service_env(spec), probe_port=probe)
    try:
        _wait_ready(spec, {service: pid}, {service: f"http://{spec.host}:{probe}"})
    except ServiceStartError:
        if _alive(pid):
            _stop_pid(pid, timeout)
        if old is not None:
            _pid_file(spec.run_dir, service).write_text(str(old))
        raise
    if old is not None and _alive(old):
        _stop_pid(old, timeout)
    log.info("service_restarted", service=service, pid=pid, old_pid=old, port=spec.ports[service])
    log_path = str(spec.run_dir / f"{service}.log")
    return ServiceStatus(service, pid, spec.ports[service], True, True, log_path)


def service_status(run_dir: Path) -> list[ServiceStatus]:
    """Process and health of every service run from ``run_dir``."""
    try:
        meta = json.loads((run_dir / "services.json").read_text())
    except (OSError, ValueError):
        meta = {"host": "127.0.0.1", "ports": {}}
    out = []
    for service in SERVICES:
        pid = _read_pid(run_dir, service)
        running = pid is not None and _alive(pid)
        port = meta["ports"].get(service)
        healthy = running and port is not None and _healthy(f"http://{meta['host']}:{port}")
        out.append(
            ServiceStatus(service, pid, port, running, healthy, str(run_dir / f"{service}.log"))
        )
    return out
