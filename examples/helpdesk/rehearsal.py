"""The helpdesk's rehearsal adapter: what ``cutover rehearse --system examples/helpdesk`` needs.

One object, :data:`SYSTEM` (a :class:`HelpdeskSystem`), gives the rehearsal everything
system-specific, so the rehearsal itself names no system:

* **plan template** — :meth:`~HelpdeskSystem.plan_document` fills ``plan.yaml`` with one
  run's names (:class:`RunNames`: topic prefix, connector, slot, consumer group, endpoints,
  ports, reports directory, sample sizes);
* **start** — :meth:`~HelpdeskSystem.start` bootstraps the database (the helpdesk's tables,
  seeded agents, ``cutover init``) and runs the helpdesk, the notifier and the search index
  as gunicorn processes until each answers ``/health``; :meth:`~HelpdeskSystem.stop`;
* **traffic** — :meth:`~HelpdeskSystem.traffic` plays seeded ticket journeys
  (:mod:`.traffic`), a second's share at a time, at the rehearsal's rate;
* **faults** — :meth:`~HelpdeskSystem.fault` restarts one service with a share of its
  effect calls answered 500 (``HELPDESK_FAULT_ERROR_RATE``), the others untouched;
* **shadow workers** — :attr:`~HelpdeskSystem.shadow_app` and
  :meth:`~HelpdeskSystem.shadow_env` (the services' URLs the handlers call in ``async``);
* **progress** — :meth:`~HelpdeskSystem.progress`: tickets announced on the outbox, and
  those whose newest version the shadow's search documents hold;
* **scenario** — :attr:`~HelpdeskSystem.default_scenario` (``scenario.yaml``: its traffic,
  a notifier fault and a shadow worker killed during dual-write).

The rehearsal calls it with its own names value (``rehearsal.system.RunNames``: the same
fields as :class:`RunNames`, ``ports`` empty for the defaults); this module imports nothing
of the rehearsal.

Only the public surface of cutover is used here too; the rehearsal's stack, Kafka, Connect
and gates are the rehearsal's.
"""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import requests
import yaml

from examples.helpdesk.config import DEFAULT_PORTS
from examples.helpdesk.errors import HelpdeskError
from examples.helpdesk.schema import create_all
from examples.helpdesk.tickets import CONTEXTS
from examples.helpdesk.traffic import TrafficReport, plan_journeys, run_journeys

HERE = Path(__file__).resolve().parent
SCENARIO = HERE / "scenario.yaml"
PLAN_TEMPLATE = HERE / "plan.yaml"
CONTRACTS = HERE / "contracts"
SERVICES: Mapping[str, str] = {
    "notifier": "examples.helpdesk.services:create_notifier_app()",
    "search": "examples.helpdesk.services:create_search_app()",
    "helpdesk": "examples.helpdesk.app:create_app()",
}
"""Each service's gunicorn application, in start order (the helpdesk calls the others)."""
AGGREGATES: Mapping[str, str] = {"notification": "notification", "search": "ticket"}


class ServiceStartError(HelpdeskError):
    """Raised when a helpdesk service does not answer ``/health`` in time (or its port is
    taken); names the service and its log file."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"helpdesk service {service}: {reason}")
        self.service = service
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RunNames:
    """What one rehearsal run names: the plan template's blanks."""

    prefix: str
    """The topic prefix (topics ``<prefix>.ticket`` and ``<prefix>.notification``)."""
    connector_name: str
    slot_name: str
    consumer_group: str
    bootstrap_servers: str
    connect_url: str
    reports_dir: str
    host: str = "127.0.0.1"
    ports: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    min_settled_keys: int = 150
    """Per comparison gate: with every key matching, 150 puts the Wilson lower bound (0.975)
    over the plan's ``min_match_rate`` (0.97)."""
    max_dead_lettered: int = 0

    def url(self, service: str) -> str:
        return url_of(self, service)


class Names(Protocol):
    """What the adapter reads of a run's names (:class:`RunNames` or the rehearsal's)."""

    @property
    def prefix(self) -> str: ...
    @property
    def connector_name(self) -> str: ...
    @property
    def slot_name(self) -> str: ...
    @property
    def consumer_group(self) -> str: ...
    @property
    def bootstrap_servers(self) -> str: ...
    @property
    def connect_url(self) -> str: ...
    @property
    def reports_dir(self) -> str: ...
    @property
    def host(self) -> str: ...
    @property
    def ports(self) -> Mapping[str, int]: ...
    @property
    def min_settled_keys(self) -> int: ...
    @property
    def max_dead_lettered(self) -> int: ...


def url_of(names: Names, service: str) -> str:
    """``service``'s base URL under ``names`` (its default port unless ``names`` sets one)."""
    return f"http://{names.host}:{(names.ports or DEFAULT_PORTS)[service]}"


@dataclass(frozen=True, slots=True)
class BurstCheck:
    """One check of a burst of traffic."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True, slots=True)
class BurstReport:
    """A burst of ticket traffic: journeys played, and what must never happen did not."""

    sent: int
    checks: tuple[BurstCheck, ...]
    report: TrafficReport


class HelpdeskSystem:
    """The helpdesk as a rehearsal sees it (see the module)."""

    name = "helpdesk"
    database_env = "HELPDESK_DATABASE_URL"
    """The variable the plan reads the database URL from."""
    shadow_app = "examples.helpdesk.shadow:app"
    shadow_args: tuple[str, ...] = ()
    contexts: tuple[str, ...] = CONTEXTS
    services: tuple[str, ...] = tuple(SERVICES)
    default_scenario = SCENARIO

    # -- the plan ----------------------------------------------------------------------------
    def topics(self, prefix: str) -> tuple[str, ...]:
        """The contexts' topics under ``prefix``."""
        return tuple(f"{prefix}.{AGGREGATES[c]}" for c in self.contexts)

    def plan_document(self, names: Names) -> dict[str, Any]:
        """``plan.yaml`` with ``names`` filled in (a new document each call)."""
        plan: dict[str, Any] = copy.deepcopy(yaml.safe_load(PLAN_TEMPLATE.read_text()))
        plan["system"]["kafka"] = {
            "bootstrap_servers": names.bootstrap_servers, "topic_prefix": names.prefix
        }  # fmt: skip
        plan["system"]["connect"].update(
            url=names.connect_url, connector_name=names.connector_name, slot_name=names.slot_name
        )
        plan["contracts"] = {"dir": str(CONTRACTS)}
        plan["reports_dir"] = names.reports_dir
        endpoints = {"notification": "notifier", "search": "search"}
        paths = {"notification": "/notifications", "search": "/documents"}
        for context, spec in plan["contexts"].items():
            spec["topic"]["name"] = f"{names.prefix}.{AGGREGATES[context]}"
            spec["consumer_group"] = names.consumer_group
            spec["sync_endpoint"] = url_of(names, endpoints[context]) + paths[context]
        gates = plan["gates"]
        for gate in ("dual_write", "async"):
            gates[gate]["min_settled_keys"] = names.min_settled_keys
            gates[gate]["max_dead_lettered"] = names.max_dead_lettered
        return plan

    # -- processes ---------------------------------------------------------------------------
    def start(
        self,
        run_dir: Path,
        database_url: str,
        names: Names,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """Bootstrap the database and start every service not running; wait for ``/health``."""
        run_dir.mkdir(parents=True, exist_ok=True)
        create_all(database_url)
        for service in self.services:
            self._start_one(run_dir, service, database_url, names, env or {})

    def stop(self, run_dir: Path) -> None:
        """Stop every service (SIGTERM, then SIGKILL of its process group)."""
        for service in reversed(self.services):
            _stop(run_dir / f"{service}.pid")

    def fault(
        self,
        run_dir: Path,
        database_url: str,
        names: Names,
        service: str,
        error_rate: float,
        *,
        timeout_rate: float = 0.0,
    ) -> str:
        """Restart ``service`` answering 500 to ``error_rate`` of its effect calls (0: none).
        The helpdesk's services have no slow-answer fault: a ``timeout_rate`` is refused."""
        if timeout_rate:
            raise FaultNotSupportedError(service, "timeouts (timeout_rate)")
        _stop(run_dir / f"{service}.pid")
        env = {"HELPDESK_FAULT_ERROR_RATE": str(error_rate)}
        self._start_one(run_dir, service, database_url, names, env)
        return f"{service}: {error_rate:.0%} HTTP 500s (only {service} restarted)"

    def shadow_env(self, names: Names) -> dict[str, str]:
        """What the shadow workers need in their environment: the services they call."""
        return {
            "HELPDESK_NOTIFIER_URL": url_of(names, "notifier"),
            "HELPDESK_SEARCH_URL": url_of(names, "search"),
        }

    def traffic(
        self,
        names: Names,
        *,
        seed: int,
        rate: float,
        seconds: float,
        concurrency: int,
        on_sample: Callable[[Any], None] | None = None,
    ) -> BurstReport:
        """Play ``rate * seconds`` seeded ticket journeys against the running helpdesk, a
        second's share at a time (so faults land while tickets are being opened).
        ``on_sample`` is left uncalled: the timeline's traffic series is the sample's."""
        journeys = plan_journeys(seed, max(1, round(rate * seconds)))
        step = max(1, round(rate))
        total = TrafficReport()
        start = time.monotonic()
        for i in range(0, len(journeys), step):
            part = run_journeys(
                url_of(names, "helpdesk"), journeys[i : i + step], threads=concurrency
            )
            total.answers.update(part.answers)
            total.tickets.extend(part.tickets)
            total.failures.extend(part.failures)
            pause = start + (i // step + 1) - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        shown = "; ".join(total.failures[:3])
        check = BurstCheck(
            "no_unexpected_answers",
            total.ok,
            f"{len(total.tickets)} tickets opened, answers {dict(total.answers)}"
            if total.ok
            else f"{len(total.failures)} failure(s): {shown}",
        )
        return BurstReport(len(journeys), (check,), total)

    def progress(self, dsn: str) -> tuple[int, int]:
        """(tickets announced on the outbox, tickets whose newest announced version the
        shadow's search documents hold)."""
        import psycopg

        with psycopg.connect(dsn, autocommit=True) as conn:
            try:
                row = conn.execute(PROGRESS_SQL).fetchone()
            except psycopg.errors.UndefinedTable:  # no outbox or shadow store yet
                return (0, 0)
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def _start_one(
        self,
        run_dir: Path,
        service: str,
        database_url: str,
        names: Names,
        env: Mapping[str, str],
    ) -> None:
        pid_file = run_dir / f"{service}.pid"
        if _alive(pid_file):
            return
        bind = f"{names.host}:{(names.ports or DEFAULT_PORTS)[service]}"
        argv = [sys.executable, "-m", "gunicorn", "--bind", bind, "--workers", "1",
                "--threads", "8", "--graceful-timeout", "5", SERVICES[service]]  # fmt: skip
        full_env = {**os.environ, **self.shadow_env(names), **env,
                    "HELPDESK_DATABASE_URL": database_url}  # fmt: skip
        log_file = run_dir / f"{service}.log"
        with log_file.open("ab") as log:
            proc = subprocess.Popen(
                argv, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        pid_file.write_text(str(proc.pid))
        _wait_healthy(service, url_of(names, service), proc, log_file)


PROGRESS_SQL = """
WITH announced AS (
  SELECT aggregateid, max(aggregate_version) AS version FROM outbox
  WHERE aggregatetype = 'ticket' GROUP BY aggregateid
)
SELECT count(*),
       count(*) FILTER (WHERE EXISTS (
         SELECT 1 FROM shadow.hd_search_documents d
         WHERE d.ticket_id = a.aggregateid AND d.version >= a.version))
FROM announced a
"""


class FaultNotSupportedError(HelpdeskError):
    """Raised for a fault the helpdesk's services cannot play (names it)."""

    def __init__(self, service: str, what: str) -> None:
        super().__init__(f"helpdesk service {service}: no fault for {what}")


def _wait_healthy(service: str, url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceStartError(service, f"exited with {proc.returncode}; see {log}")
        try:
            if requests.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise ServiceStartError(service, f"no healthy /health within 30s; see {log}")


def _pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid_file: Path) -> bool:
    pid = _pid(pid_file)
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _stop(pid_file: Path, timeout: float = 10.0) -> None:
    pid = _pid(pid_file)
    if pid is None or not _alive(pid_file):
        pid_file.unlink(missing_ok=True)
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                break
        except ChildProcessError:  # not our child: poll its existence
            if not _alive(pid_file):
                break
        time.sleep(0.1)
    else:
        os.killpg(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)


SYSTEM = HelpdeskSystem()
"""The adapter the rehearsal loads (``--system examples/helpdesk`` → this module's SYSTEM)."""
