"""Ticket traffic for rehearsals: a pure, seeded plan of journeys and a runner over HTTP.

:func:`plan_journeys` turns ``(seed, count)`` into the exact journeys (same inputs, same
requests): a ticket opened, then most often assigned to one of the seeded agents, then often
resolved; and malformed requests (a missing field, a bad address, invalid JSON) that must
get a 4xx. :func:`run_journeys` plays them from a thread pool, the steps of one journey in
order, and returns a :class:`TrafficReport` whose ``failures`` are what must never happen:
a transport error, a 5xx other than a downstream failure (502: a faulted service — the
ticket rolls back), or a malformed request accepted.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import requests

from examples.helpdesk.schema import SEED_AGENTS

Step = Literal["open", "assign", "resolve", "malformed"]
TOPICS = ("printer", "VPN", "password reset", "laptop", "billing portal", "e-mail quota")


@dataclass(frozen=True, slots=True)
class Journey:
    """One ticket's life (or one malformed request): the steps, in order."""

    index: int
    steps: tuple[Step, ...]
    title: str
    requester: str
    agent_id: int
    malformed: str | None = None
    """How the request is broken (``missing_body``, ``bad_requester``, ``invalid_json``)."""


MALFORMATIONS = ("missing_body", "bad_requester", "invalid_json")


def plan_journeys(
    seed: int, count: int, *, assign_share: float = 0.8, resolve_share: float = 0.6,
    malformed_share: float = 0.05,
) -> list[Journey]:  # fmt: skip
    """``count`` journeys from ``seed`` (pure: the same arguments give the same journeys)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible traffic, not secrets
    out: list[Journey] = []
    for i in range(count):
        title = f"{rng.choice(TOPICS)} issue #{i}"
        requester = f"user{rng.randrange(10_000)}@customer.example"
        agent = rng.randrange(1, len(SEED_AGENTS) + 1)
        if rng.random() < malformed_share:
            bad = MALFORMATIONS[i % len(MALFORMATIONS)]
            out.append(Journey(i, ("malformed",), title, requester, agent, bad))
            continue
        steps: list[Step] = ["open"]
        if rng.random() < assign_share:
            steps.append("assign")
        if rng.random() < resolve_share:
            steps.append("resolve")
        out.append(Journey(i, tuple(steps), title, requester, agent))
    return out


@dataclass(slots=True)
class TrafficReport:
    """What the traffic did: answers by step and status class, and what must not happen."""

    answers: Counter[str] = field(default_factory=Counter)
    tickets: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def note(self, answer: str | None = None, *, ticket: str | None = None,
             failure: str | None = None) -> None:  # fmt: skip
        """Count an answer, a ticket opened or a failure (thread-safe)."""
        with self.lock:
            if answer is not None:
                self.answers[answer] += 1
            if ticket is not None:
                self.tickets.append(ticket)
            if failure is not None:
                self.failures.append(failure)

    @property
    def ok(self) -> bool:
        return not self.failures


def _malformed(session: requests.Session, base: str, journey: Journey) -> requests.Response:
    url = f"{base}/tickets"
    if journey.malformed == "invalid_json":
        headers = {"Content-Type": "application/json"}
        return session.post(url, data=b"{not json", headers=headers, timeout=10)
    body: dict[str, Any] = {"title": journey.title, "body": "x", "requester": journey.requester}
    if journey.malformed == "missing_body":
        del body["body"]
    else:
        body["requester"] = "not-an-address"
    return session.post(url, json=body, timeout=10)


def _play(base: str, journey: Journey, report: TrafficReport) -> None:
    with requests.Session() as session:
        ticket: str | None = None
        for step in journey.steps:
            try:
                if step == "malformed":
                    resp = _malformed(session, base, journey)
                elif step == "open":
                    body = {"title": journey.title, "body": f"{journey.title}: it broke.",
                            "requester": journey.requester}  # fmt: skip
                    resp = session.post(f"{base}/tickets", json=body, timeout=10)
                elif step == "assign":
                    body_a = {"agent_id": journey.agent_id}
                    resp = session.post(f"{base}/tickets/{ticket}/assign", json=body_a, timeout=10)
                else:
                    body_r = {"resolution": "Fixed."}
                    resp = session.post(f"{base}/tickets/{ticket}/resolve", json=body_r, timeout=10)
            except requests.RequestException as exc:
                report.note(failure=f"journey {journey.index} {step}: {type(exc).__name__}")
                return
            report.note(f"{step} {resp.status_code // 100}xx")
            if not _acceptable(step, resp.status_code):
                report.note(failure=f"journey {journey.index} {step}: HTTP {resp.status_code}")
                return
            if resp.status_code >= 300:
                return  # a faulted service: the ticket rolled back, the journey ends
            if step == "open":
                ticket = str(resp.json()["ticket_id"])
                report.note(ticket=ticket)


def _acceptable(step: Step, status: int) -> bool:
    if step == "malformed":
        return 400 <= status < 500
    return status < 300 or status == 502


def run_journeys(base_url: str, journeys: Sequence[Journey], *, threads: int = 8) -> TrafficReport:
    """Play ``journeys`` against the helpdesk at ``base_url`` (each journey's steps in order)."""
    report = TrafficReport()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for future in [pool.submit(_play, base_url.rstrip("/"), j, report) for j in journeys]:
            future.result()
    return report
