"""``cutover shadow run`` with several worker processes: when the supervisor dies, even by
SIGKILL (which it cannot forward), its workers notice, finish their batch, commit and close
instead of running on unsupervised beside the next supervisor's workers."""

from __future__ import annotations

import contextlib
import os
import re
import signal
from pathlib import Path

from legacy_app.orderflow.samples import order_payload
from tests.integration.shadow.conftest import Pipeline, alive, wait_until


def test_workers_close_when_their_supervisor_is_killed(pipeline: Pipeline, tmp_path: Path) -> None:
    log = tmp_path / "workers.log"
    parent = pipeline.start_worker("--batch-size", "50", log=log)  # flow and analytics groups
    wait_until(lambda: log.read_text().count("worker_started") == 2, 60, "two workers started")
    pids = [int(p) for p in re.findall(r"\(pid (\d+)\)", log.read_text())]
    assert len(pids) == 2
    pipeline.insert_orders([order_payload(f"sup-{i:03d}") for i in range(200)])
    pipeline.wait_processed(1, timeout=120)

    parent.send_signal(signal.SIGKILL)  # the supervisor alone
    assert parent.wait(10) == -signal.SIGKILL
    try:
        wait_until(lambda: not any(alive(p) for p in pids), 30, "the workers stopped")
    finally:  # never leave a worker running past the test
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    text = log.read_text()
    assert text.count("supervisor_gone") == 2, text[-2000:]
    assert text.count("worker_closed") == 2, "each finished its batch, committed and closed"
