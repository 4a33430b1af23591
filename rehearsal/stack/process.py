"""Start, watch and stop one long-running process tracked by a pid file.

The pid file holds ``pid`` and the process start time (from ``/proc``), so a
recycled pid is never mistaken for ours and ``down`` stops exactly what ``up``
started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rehearsal.stack.errors import ComponentExitedError, PortInUseError, StartTimeoutError


def _start_ticks(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (field 22 of /proc/PID/stat), or None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return fields[19] if len(fields) > 19 and fields[0] != "Z" else None


def port_open(host: str, port: int, timeout: float = 0.3) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        return sock.connect_ex((host, port)) == 0


def tail(path: Path, lines: int = 15) -> str:
    """The last ``lines`` lines of a log file ('' when it does not exist)."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 16384))
            data = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])


@dataclass(slots=True)
class ManagedProcess:
    """A background process with a pid file and a log file."""

    name: str
    pid_file: Path
    log_file: Path
    _popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def pid(self) -> int | None:
        """Our process's pid when it is alive, else None (a stale pid file is removed)."""
        try:
            pid_s, ticks = self.pid_file.read_text().split()
            pid = int(pid_s)
        except (OSError, ValueError):
            return None
        if _start_ticks(pid) != ticks:
            self.pid_file.unlink(missing_ok=True)
            return None
        return pid

    def start(
        self, argv: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> int:
        """Start ``argv`` in its own session, output appended to the log file."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                list(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        ticks = _start_ticks(proc.pid) or "0"
        self.pid_file.write_text(f"{proc.pid} {ticks}\n")
        self._popen = proc
        return proc.pid

    def exit_code(self) -> int | None:
        """Exit code if the process we started in this Python process has exited."""
        return None if self._popen is None else self._popen.poll()

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM the process group, SIGKILL after ``timeout``; True if something was stopped."""
        pid = self.pid()
        if pid is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _start_ticks(pid) is not None:
            _reap(pid)
            time.sleep(0.1)
        if _start_ticks(pid) is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            while _start_ticks(pid) is not None:
                _reap(pid)
                time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)
        return True


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def ensure_port_free(component: str, host: str, port: int) -> None:
    """Raise :class:`PortInUseError` when ``port`` is taken."""
    if port_open(host, port):
        raise PortInUseError(component, port)


def wait_until(
    component: str,
    check: Callable[[], bool],
    *,
    timeout: float,
    log_file: Path,
    exited: Callable[[], int | None] = lambda: None,
    interval: float = 0.25,
) -> float:
    """Poll ``check`` until it is true; return the seconds waited.

    Raises :class:`ComponentExitedError` when ``exited`` reports an exit code and
    :class:`StartTimeoutError` after ``timeout`` seconds.
    """
    start = time.monotonic()
    while True:
        if check():
            return time.monotonic() - start
        code = exited()
        if code is not None:
            raise ComponentExitedError(component, code, str(log_file), tail(log_file))
        if time.monotonic() - start > timeout:
            raise StartTimeoutError(component, timeout, str(log_file), tail(log_file))
        time.sleep(interval)
