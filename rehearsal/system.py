"""The one place a system plugs into the rehearsal: a :class:`System` adapter.

``cutover rehearse --system PATH`` loads ``<PATH as a module>.rehearsal:SYSTEM`` (the sample
when no path is given: :mod:`rehearsal.sample`) and drives it; the rehearsal itself names
no system. An adapter gives:

* the **plan template** filled with one run's names (:class:`RunNames`: topic prefix,
  connector, slot, consumer group, endpoints, reports directory, sample sizes) —
  :meth:`System.plan_document`; its contexts, invariants and compare rules are the plan's;
* **start/stop** of the application and its services (the database is already created and
  initialised by ``cutover init``);
* seeded **traffic** at a rate for some seconds, returning what was sent and its checks;
* **fault hooks**: :meth:`System.fault` puts a share of one service's calls in error (0:
  none), for ``downstream_errors``; every other fault (a shadow worker killed, Connect,
  Kafka or Postgres restarted, poison, duplicates, an offset rewind) acts on the stack and
  the shadow workers and needs nothing of the system;
* the **shadow app** its workers run (``module:attribute``), their extra arguments and
  environment, and the **topics** of its contexts;
* **progress** of the event path (outbox rows announced, and done by the shadow), so the
  rehearsal knows when a burst has settled.

An adapter imports nothing of the rehearsal (an example reaches cutover through its public
surface only): :class:`RunNames` and the traffic report are structural.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from rehearsal.errors import SystemLoadError

DEFAULT_SYSTEM = "rehearsal.sample:SYSTEM"
"""The sample monolith's adapter, the rehearsal's default."""
ADAPTER_MODULE = "rehearsal"
"""A system directory's adapter module (``examples/helpdesk`` → ``examples.helpdesk.rehearsal``)."""
ADAPTER_ATTRIBUTE = "SYSTEM"


@dataclass(frozen=True, slots=True)
class RunNames:
    """What one rehearsal run names: the blanks of a system's plan template."""

    prefix: str
    """The topic prefix of the run (``<prefix>.<aggregate>`` topics)."""
    connector_name: str
    slot_name: str
    consumer_group: str
    bootstrap_servers: str
    connect_url: str
    reports_dir: str
    host: str = "127.0.0.1"
    ports: Mapping[str, int] = field(default_factory=dict)
    """The services' ports; empty: the system's defaults."""
    min_settled_keys: int = 100
    max_dead_lettered: int = 0
    max_left_out_share: float = 0.05
    shadow_options: Mapping[str, str] = field(default_factory=dict)
    """Options of the shadow app (the scenario's ``shadow.bug``, when it sets one)."""


class TrafficCheck(Protocol):
    """One check of a burst of traffic (what must never happen did not)."""

    @property
    def name(self) -> str: ...

    @property
    def passed(self) -> bool: ...

    @property
    def detail(self) -> str: ...


class TrafficOutcome(Protocol):
    """What a burst of traffic did: requests sent and its checks."""

    @property
    def sent(self) -> int: ...

    @property
    def checks(self) -> Sequence[TrafficCheck]: ...


@runtime_checkable
class System(Protocol):
    """A system the rehearsal migrates (see the module)."""

    name: str
    database_env: str
    """The variable the plan reads the database URL from."""
    shadow_app: str
    """The shadow app the workers run (``module:attribute``)."""
    shadow_args: tuple[str, ...]
    """Extra arguments of ``cutover shadow run`` (after ``--app``)."""
    contexts: tuple[str, ...]
    """The plan's contexts in rollout order; the first is the one the drill rolls back."""
    services: tuple[str, ...]
    """The services :meth:`fault` can put in error."""
    default_scenario: Path
    """The scenario a rehearsal of this system runs unless told otherwise."""

    def topics(self, prefix: str) -> tuple[str, ...]: ...

    def plan_document(self, names: Any) -> dict[str, Any]: ...

    def start(
        self, run_dir: Path, database_url: str, names: Any, env: Mapping[str, str] | None = None
    ) -> None: ...

    def stop(self, run_dir: Path) -> None: ...

    def fault(
        self,
        run_dir: Path,
        database_url: str,
        names: Any,
        service: str,
        error_rate: float,
        *,
        timeout_rate: float = 0.0,
    ) -> str: ...

    def shadow_env(self, names: Any) -> dict[str, str]: ...

    def traffic(
        self,
        names: Any,
        *,
        seed: int,
        rate: float,
        seconds: float,
        concurrency: int,
        on_sample: Callable[[Any], None] | None = None,
    ) -> TrafficOutcome:
        """Seeded traffic at ``rate`` for ``seconds`` (``on_sample``: the timeline's hook,
        which a system may leave uncalled)."""
        ...

    def progress(self, dsn: str) -> tuple[int, int]:
        """(outbox rows the shadow must handle, rows it has handled): settled when equal."""
        ...


def package_of(directory: Path) -> tuple[Path, str]:
    """(the folder to import from, the dotted package) of a system ``directory``: it and the
    folders above it holding ``__init__.py`` (``examples/helpdesk`` → ``examples.helpdesk``)."""
    folder = directory.resolve()
    parts = [folder.name]
    root = folder.parent
    while (root / "__init__.py").exists():
        parts.insert(0, root.name)
        root = root.parent
    return root, ".".join(parts)


def module_of(source: str) -> str:
    """``examples/helpdesk`` (a directory) → ``examples.helpdesk.rehearsal:SYSTEM``; a
    ``module:attribute`` reference is kept."""
    if ":" in source:
        return source
    path = Path(source)
    if path.is_dir():
        dotted = package_of(path)[1]
    else:
        dotted = ".".join(p for p in path.parts if p not in (".", "", "/"))
    return f"{dotted}.{ADAPTER_MODULE}:{ADAPTER_ATTRIBUTE}"


def _importable(directory: Path) -> None:
    """Put the folder ``directory``'s package imports from on ``sys.path`` and on the
    ``PYTHONPATH`` of the processes the rehearsal starts (its app, services and shadow
    workers), so a system is found from a checkout as well as an installed package."""
    folder = str(package_of(directory)[0])
    if folder not in sys.path:
        sys.path.insert(0, folder)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if folder not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([folder, *paths])


def load_system(source: str | None = None) -> System:
    """The adapter ``source`` names (a directory like ``examples/helpdesk`` or a
    ``module:attribute``); the sample's when ``None``. One line naming what is missing."""
    ref = module_of(source) if source else DEFAULT_SYSTEM
    shown = source or ref
    if source and ":" not in source:
        directory = Path(source)
        if not directory.is_dir():
            raise SystemLoadError(source, "no such directory")
        _importable(directory)
    module_name, _, attribute = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise SystemLoadError(shown, f"no module {exc.name or module_name}") from exc
    except ImportError as exc:
        raise SystemLoadError(shown, f"{module_name} does not import: {exc}") from exc
    system = getattr(module, attribute or ADAPTER_ATTRIBUTE, None)
    if system is None:
        raise SystemLoadError(shown, f"{module_name} defines no {attribute or ADAPTER_ATTRIBUTE}")
    missing = [
        name
        for name in (*_ATTRIBUTES, *_METHODS)
        if not hasattr(system, name) or (name in _METHODS and not callable(getattr(system, name)))
    ]
    if missing:
        raise SystemLoadError(
            shown,
            f"{module_name}.{attribute} is not a rehearsal system: lacks {', '.join(missing)}",
        )
    return system  # type: ignore[no-any-return]


_ATTRIBUTES = (
    "name",
    "database_env",
    "shadow_app",
    "shadow_args",
    "contexts",
    "services",
    "default_scenario",
)
_METHODS = (
    "topics",
    "plan_document",
    "start",
    "stop",
    "fault",
    "shadow_env",
    "traffic",
    "progress",
)
