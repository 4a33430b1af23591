"""``restart_service``: one service is replaced with new settings, without a gap, and the
others keep running."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

import pytest
import requests

from legacy_app.errors import ServiceStartError
from legacy_app.runner import _alive, restart_service, service_status
from tests.integration.legacy_app.conftest import Running


def _pids(running: Running) -> dict[str, int | None]:
    return {s.service: s.pid for s in service_status(running.spec.run_dir)}


def test_restart_one_service_with_a_fault_leaves_the_others_untouched(
    start_app: Callable[..., Running],
) -> None:
    running = start_app()
    before = _pids(running)
    faulty = dataclasses.replace(
        running.spec, env={**running.spec.env, "CUTOVER_FAULT_PAYMENT_ERROR_RATE": "1"}
    )
    answers: list[int | str] = []
    done = threading.Event()

    def probe() -> None:
        # the payment port answers all through the restart, to a caller that retries once as
        # the order service's callers do: a connection still queued on the old process's
        # listening socket when it closes is reset (SO_REUSEPORT hands-over are not atomic)
        url = f"{running.spec.url('payment')}/health"
        while not done.is_set():
            for attempt in (1, 2):
                try:
                    answers.append(requests.get(url, timeout=5).status_code)
                    break
                except requests.ConnectionError as exc:
                    if attempt == 2:
                        answers.append(type(exc).__name__)
                except requests.RequestException as exc:
                    answers.append(type(exc).__name__)
                    break

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        status = restart_service(faulty, "payment")
    finally:
        done.set()
        prober.join()

    after = _pids(running)
    assert status.service == "payment" and status.healthy and status.running
    assert after["payment"] == status.pid != before["payment"]
    assert before["payment"] is not None and not _alive(before["payment"])
    assert {s: p for s, p in after.items() if s != "payment"} == {
        s: p for s, p in before.items() if s != "payment"
    }
    assert all(s.healthy for s in service_status(running.spec.run_dir))
    assert len(answers) > 5 and set(answers) == {200}, answers
    charged = requests.post(f"{running.spec.url('payment')}/charge", json={}, timeout=5)
    assert charged.status_code == 500 and "injected fault" in charged.text
    reserved = requests.post(f"{running.spec.url('inventory')}/reserve", json={}, timeout=5)
    assert reserved.status_code != 500  # inventory kept its (fault-free) settings

    with pytest.raises(ServiceStartError):
        restart_service(running.spec, "billing")


def test_a_replacement_that_cannot_start_leaves_the_old_process_serving(
    start_app: Callable[..., Running],
) -> None:
    running = start_app()
    before = _pids(running)["email"]
    broken = dataclasses.replace(
        running.spec, env={**running.spec.env, "CUTOVER_FAULT_EMAIL_ERROR_RATE": "2"}
    )

    with pytest.raises(ServiceStartError, match="email"):
        restart_service(broken, "email")

    assert _pids(running)["email"] == before
    assert requests.get(f"{running.spec.url('email')}/health", timeout=5).status_code == 200
