"""Shadow worker processes of a rehearsal: start, kill -9, restart, stop.

Each worker is ``python -m shadow ... run --app <the system's shadow app> <its arguments>
--workers 1`` in its own process (pid file and log under the rehearsal's run folder), so
``kill -9`` kills all of it; several workers share one consumer group and split its
partitions, as they would in production.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from rehearsal.errors import NotReadyError
from rehearsal.stack.process import ManagedProcess


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """What every shadow worker of a rehearsal runs with: ``env`` names the stack explicitly
    (``CUTOVER_SHADOW_BOOTSTRAP`` and ``CUTOVER_SHADOW_DSN``, :mod:`cutover_common.config`),
    as a team's deployment does; ``cutover shadow`` knows no stack of its own."""

    group: str
    topics: tuple[str, ...]
    run_dir: Path
    mode: str = "dual"
    env: dict[str, str] = field(default_factory=dict)
    app: str = ""
    """The shadow app (``module:attribute``) every worker runs."""
    app_args: tuple[str, ...] = ()
    """Arguments of ``shadow run`` after ``--app`` (e.g. the one consumer to run)."""

    def argv(self) -> list[str]:
        args = [
            sys.executable,
            "-m",
            "shadow",
            "--group",
            self.group,
            "--mode",
            self.mode,
        ]
        for topic in self.topics:
            args += ["--topic", topic]
        return [*args, "run", "--app", self.app, *self.app_args, "--workers", "1"]


class ShadowWorkers:
    """A fixed number of shadow worker processes."""

    def __init__(self, spec: WorkerSpec, count: int) -> None:
        self.spec = spec
        self.procs = [
            ManagedProcess(
                f"shadow-{i}", spec.run_dir / f"shadow-{i}.pid", spec.run_dir / f"shadow-{i}.log"
            )
            for i in range(count)
        ]
        self.kills = 0

    def start(self) -> None:
        """Start every worker that is not running."""
        env = {**os.environ, **self.spec.env}
        for proc in self.procs:
            if proc.pid() is None:
                proc.start(self.spec.argv(), env=env)

    def alive(self) -> int:
        return sum(1 for p in self.procs if p.pid() is not None)

    def kill_one(self, index: int = 0) -> int:
        """``kill -9`` worker ``index`` (mid-batch: no chance to commit); returns its pid."""
        pid = self.procs[index].pid()
        if pid is None:
            raise NotReadyError(f"shadow worker {index}", "not running")
        os.killpg(pid, signal.SIGKILL)  # its own session: the whole worker, children too
        deadline = time.monotonic() + 10
        while self.procs[index].pid() is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        self.kills += 1
        return pid

    def restart(self, mode: str | None = None) -> None:
        """Stop every worker gracefully and start them again (optionally in another mode)."""
        self.stop()
        if mode is not None:
            self.spec = replace(self.spec, mode=mode)
        self.start()

    def stop(self) -> None:
        """SIGTERM every worker (finish the batch, commit, close)."""
        for proc in self.procs:
            proc.stop(timeout=30)

    def logs(self) -> list[Path]:
        return [p.log_file for p in self.procs]
