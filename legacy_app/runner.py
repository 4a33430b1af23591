"""Running the sample monolith as real processes: one gunicorn per service.

``start_services`` creates the schema, seeds the catalogue, starts a gunicorn
master (one worker, threads) per service with ``CUTOVER_*`` configuration in
its environment, and waits until each answers ``/health``. Pid files, logs and
the ports used live under the run directory (``<state_dir>/app`` for the CLI).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import requests
import structlog

from cutover_common.secrets import Secret
from legacy_app.config import DEFAULT_PORTS, DOWNSTREAMS
from legacy_app.errors import ServiceStartError
from legacy_app.schema import create_all, make_engine
from legacy_app.seed import seed_catalogue
from legacy_app.wsgi import SERVICES

log = structlog.get_logger(__name__)
PACKAGE_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class RunSpec:
    """Where and how to run the services."""

    run_dir: Path
    database_url: Secret
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


def _spawn(spec: RunSpec, service: str, env: dict[str, str]) -> int:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    log_path = spec.run_dir / f"{service}.log"
    cmd = [
        str(gunicorn), "--bind", f"{spec.host}:{spec.ports[service]}", "--workers", "1",
        "--worker-class", "gthread", "--threads", str(spec.threads), "--timeout", "60",
        "--graceful-timeout", "5", "--access-logfile", "-", "--log-level", "warning",
        f'legacy_app.wsgi:create("{service}")',
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


def _wait_ready(spec: RunSpec, pids: Mapping[str, int]) -> None:
    deadline = time.monotonic() + spec.ready_timeout
    waiting = dict(pids)
    while waiting:
        for service, pid in list(waiting.items()):
            if _healthy(spec.url(service)):
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
        started[service] = _spawn(spec, service, env)
        log.info("service_started", service=service, pid=started[service], port=spec.ports[service])
    try:
        _wait_ready(spec, started)
    except ServiceStartError:
        stop_services(spec.run_dir)
        raise
    return service_status(spec.run_dir)


def stop_services(run_dir: Path, *, timeout: float = 10.0) -> list[str]:
    """SIGTERM each running service (SIGKILL after ``timeout``); returns the ones stopped."""
    stopped: list[str] = []
    for service in SERVICES:
        pid = _read_pid(run_dir, service)
        if pid is not None and _alive(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(pid):
                os.killpg(pid, signal.SIGKILL)
                _alive(pid)
            stopped.append(service)
        _pid_file(run_dir, service).unlink(missing_ok=True)
    return stopped


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
