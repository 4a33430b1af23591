"""Synthetic traffic for the sample order API: a pure, seeded plan and a rate-holding runner.

:func:`plan_requests` turns ``(seed, count, mix)`` into the exact request
sequence (same inputs, same requests): new customers, orders of 1-5 catalogue
lines, declined payments, out-of-stock orders and malformed requests (missing
fields, wrong types, negative quantities, unknown SKUs, invalid JSON, oversized
bodies). :func:`run_traffic` sends a plan over HTTP from a thread pool at a
target rate and returns a :class:`TrafficReport` (:func:`build_report` is pure)
with checks: malformed requests must get a 4xx, valid ones a 2xx, and nothing
may fail at the transport level.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

import requests
import structlog

from cutover_common.secrets import redact
from rehearsal.errors import RehearsalError

log = structlog.get_logger(__name__)

CATALOGUE_SKUS: tuple[str, ...] = tuple(f"SKU-{n:04d}" for n in range(1, 51))
OUT_OF_STOCK_SKUS: tuple[str, ...] = ("SKU-OOS-1", "SKU-OOS-2", "SKU-OOS-3")
CORRELATION_NAMESPACE = uuid.UUID("6f1c2f7e-3d0a-4f57-9a55-7c0de0c0ffee")
FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson")


class TrafficError(RehearsalError):
    """Raised when traffic cannot start: a bad mix, a bad option, or the API is unreachable."""

    def __init__(self, message: str, *, base_url: str | None = None) -> None:
        super().__init__(message, hint="check --base-url and that the order API is running")
        self.base_url = base_url


class Kind(StrEnum):
    """What a planned request exercises."""

    NEW_CUSTOMER = "new_customer"
    ORDER = "order"
    DECLINED_PAYMENT = "declined_payment"
    OUT_OF_STOCK = "out_of_stock"
    MALFORMED = "malformed"


class Malformation(StrEnum):
    """How a malformed request is broken."""

    MISSING_FIELDS = "missing_fields"
    WRONG_TYPES = "wrong_types"
    NEGATIVE_QTY = "negative_qty"
    UNKNOWN_SKU = "unknown_sku"
    INVALID_JSON = "invalid_json"
    OVERSIZED_BODY = "oversized_body"


Expect = Literal["2xx", "4xx"]


@dataclass(frozen=True, slots=True)
class TrafficMix:
    """Relative weights of each kind (after the first ``initial_customers`` customers)."""

    new_customer: float = 10
    order: float = 60
    declined_payment: float = 10
    out_of_stock: float = 10
    malformed: float = 10

    def weights(self) -> list[tuple[Kind, float]]:
        return [(kind, float(getattr(self, kind.value))) for kind in Kind]

    @classmethod
    def parse(cls, text: str) -> TrafficMix:
        """``"order=60,malformed=20"``; unnamed kinds keep their default weights."""
        values: dict[str, float] = {}
        aliases = {
            "declined": "declined_payment",
            "oos": "out_of_stock",
            "customer": "new_customer",
        }
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, sep, raw = part.partition("=")
            key = aliases.get(name.strip(), name.strip())
            if not sep or key not in {k.value for k in Kind}:
                raise TrafficError(
                    f"bad mix entry {part!r}: expected KIND=WEIGHT, KIND one of {list(Kind)}"
                )
            try:
                values[key] = float(raw)
            except ValueError:
                raise TrafficError(f"bad mix weight in {part!r}") from None
        mix = cls(**values)
        if any(w < 0 for _, w in mix.weights()) or sum(w for _, w in mix.weights()) <= 0:
            raise TrafficError(f"mix weights must be >= 0 and not all 0: {text!r}")
        return mix


DEFAULT_MIX = TrafficMix()


@dataclass(frozen=True, slots=True)
class PlannedRequest:
    """One request of a plan. ``customer_ref`` names an earlier new-customer request by index."""

    index: int
    kind: Kind
    method: str
    path: str
    correlation_id: str
    expect: Expect
    body: Any = None
    raw_body: str | None = None
    customer_ref: int | None = None
    malformation: Malformation | None = None
    padding: int = 0

    @property
    def label(self) -> str:
        """The kind as reported: ``malformed:<how>`` for malformed requests."""
        return f"{self.kind}:{self.malformation}" if self.malformation else str(self.kind)

    def render(self, customer_id: str | None) -> bytes:
        """The request body, with the referenced customer's real id filled in."""
        if self.raw_body is not None:
            return self.raw_body.encode()
        body = self.body
        if isinstance(body, dict) and self.customer_ref is not None and "customer_id" in body:
            body = {**body, "customer_id": customer_id}
        if self.padding and isinstance(body, dict):
            body = {**body, "note": "x" * self.padding}
        return json.dumps(body).encode()


def plan_requests(
    seed: int,
    count: int,
    mix: TrafficMix = DEFAULT_MIX,
    *,
    run_id: str = "",
    initial_customers: int = 3,
    oversize_bytes: int = 256 * 1024,
) -> list[PlannedRequest]:
    """The request sequence for ``seed``: pure, so the same arguments give the same list.

    The first ``initial_customers`` requests (at least one) create customers so
    that orders have someone to reference. ``run_id`` salts correlation ids and
    e-mail addresses so that two runs with one seed do not collide in one database.
    """
    rng = random.Random(seed)  # noqa: S311 -- reproducible by design, not for secrets
    planner = _Planner(rng, seed, run_id, oversize_bytes)
    kinds, weights = zip(*mix.weights(), strict=True)
    out: list[PlannedRequest] = []
    for index in range(count):
        if planner.customers < max(1, initial_customers):
            kind = Kind.NEW_CUSTOMER
        else:
            kind = rng.choices(kinds, weights=weights)[0]
        out.append(planner.plan(index, kind))
    return out


@dataclass
class _Planner:
    rng: random.Random
    seed: int
    run_id: str
    oversize_bytes: int
    customers: int = 0
    customer_indexes: list[int] = field(default_factory=list)

    def plan(self, index: int, kind: Kind) -> PlannedRequest:
        corr = str(uuid.uuid5(CORRELATION_NAMESPACE, f"{self.run_id}:{self.seed}:{index}"))
        if kind is Kind.NEW_CUSTOMER:
            self.customers += 1
            self.customer_indexes.append(index)
            return PlannedRequest(
                index, kind, "POST", "/customers", corr, "2xx", self.customer(index)
            )
        ref = self.rng.choice(self.customer_indexes)
        if kind is Kind.MALFORMED:
            return self.malformed(index, corr, ref)
        lines = self.lines()
        if kind is Kind.OUT_OF_STOCK:
            lines[self.rng.randrange(len(lines))]["sku"] = self.rng.choice(OUT_OF_STOCK_SKUS)
        method = "card_declined" if kind is Kind.DECLINED_PAYMENT else "card"
        body = {"customer_id": None, "items": lines, "payment_method": method}
        return PlannedRequest(index, kind, "POST", "/orders", corr, "2xx", body, customer_ref=ref)

    def customer(self, index: int) -> dict[str, Any]:
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        tag = self.run_id or f"s{self.seed}"
        return {"name": f"{first} {last}", "email": f"{first.lower()}.{index}.{tag}@example.com"}

    def lines(self) -> list[dict[str, Any]]:
        skus = self.rng.sample(CATALOGUE_SKUS, self.rng.randint(1, 5))
        return [{"sku": sku, "qty": self.rng.randint(1, 5)} for sku in skus]

    def malformed(self, index: int, corr: str, ref: int) -> PlannedRequest:
        how = self.rng.choice(list(Malformation))
        body: dict[str, Any] = {
            "customer_id": None,
            "items": self.lines(),
            "payment_method": "card",
        }
        path, raw, padding = "/orders", None, 0
        line = body["items"][self.rng.randrange(len(body["items"]))]
        if how is Malformation.MISSING_FIELDS:
            if self.rng.random() < 0.25:
                path, body = "/customers", {"name": "No Email"}
            else:
                del body[self.rng.choice(["customer_id", "items"])]
        elif how is Malformation.WRONG_TYPES:
            choice = self.rng.randrange(3)
            if choice == 0:
                line["qty"] = "three"
            elif choice == 1:
                body["items"] = "SKU-0001"
            else:
                body["payment_method"] = 42
        elif how is Malformation.NEGATIVE_QTY:
            line["qty"] = -self.rng.randint(1, 5)
        elif how is Malformation.UNKNOWN_SKU:
            line["sku"] = f"SKU-{self.rng.randint(100, 9999):04d}"
        elif how is Malformation.INVALID_JSON:
            text = json.dumps({**body, "customer_id": "0"})
            raw = text[: -self.rng.randint(1, 8)]
        else:
            padding = self.oversize_bytes
        customer_ref = ref if path == "/orders" and "customer_id" in body else None
        return PlannedRequest(
            index, Kind.MALFORMED, "POST", path, corr, "4xx", body, raw, customer_ref, how, padding
        )


# --------------------------------------------------------------------------- report
@dataclass(frozen=True, slots=True)
class Sample:
    """What one sent request gave (``status`` is ``None`` when the transport failed)."""

    index: int
    label: str
    expect: Expect
    status: int | None
    latency_ms: float
    error: str | None = None
    order_id: str | None = None
    correlation_id: str | None = None
    order_status: str | None = None
    detail: str | None = None
    """What the transport said when it failed (redacted, at most 200 characters)."""
    retried: str | None = None
    """The transport error of a first attempt answered on the second (idempotent) one."""

    @property
    def as_expected(self) -> bool:
        if self.status is None:
            return False
        return 200 <= self.status < 300 if self.expect == "2xx" else 400 <= self.status < 500


@dataclass(frozen=True, slots=True)
class KindStats:
    """Counts and latency percentiles (milliseconds) of one kind."""

    label: str
    sent: int
    status_counts: dict[str, int]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    unexpected: int


@dataclass(frozen=True, slots=True)
class Check:
    """One pass/fail statement about the run."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True, slots=True)
class TrafficReport:
    """The result of a run; ``orders`` lists every order the API accepted."""

    planned: int
    sent: int
    elapsed_s: float
    target_rate: float
    achieved_rate: float
    by_kind: tuple[KindStats, ...]
    status_counts: dict[str, int]
    errors: tuple[str, ...]
    checks: tuple[Check, ...]
    orders: tuple[dict[str, str | None], ...] = ()

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "planned": self.planned,
            "sent": self.sent,
            "elapsed_s": round(self.elapsed_s, 3),
            "target_rate": self.target_rate,
            "achieved_rate": round(self.achieved_rate, 2),
            "by_kind": {
                k.label: {
                    "sent": k.sent,
                    "status_counts": k.status_counts,
                    "latency_ms": {"p50": k.p50_ms, "p90": k.p90_ms, "p99": k.p99_ms},
                    "unexpected": k.unexpected,
                }
                for k in self.by_kind
            },
            "status_counts": self.status_counts,
            "errors": list(self.errors),
            "checks": [{"name": c.name, "ok": c.passed, "detail": c.detail} for c in self.checks],
            "ok": self.passed,  # not "passed": echo_json masks keys that look like "pass..."
            "orders": list(self.orders),
        }


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (0 for no values), rounded to 0.1 ms."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return round(ordered[int(rank) - 1], 1)


def _status_key(sample: Sample) -> str:
    return "error" if sample.status is None else str(sample.status)


def _stats(label: str, group: list[Sample]) -> KindStats:
    latencies = [s.latency_ms for s in group]
    counts = dict(sorted(Counter(_status_key(s) for s in group).items()))
    return KindStats(
        label,
        len(group),
        counts,
        percentile(latencies, 50),
        percentile(latencies, 90),
        percentile(latencies, 99),
        sum(not s.as_expected for s in group),
    )


def _check(name: str, group: Iterable[Sample], detail: str) -> Check:
    bad = [s for s in group if not s.as_expected]
    statuses = dict(Counter(_status_key(s) for s in bad).most_common(5))
    return Check(name, not bad, f"{detail}; {len(bad)} did not" + (f" ({statuses})" if bad else ""))


def _transport_detail(failed: Sequence[Sample], retried: Sequence[Sample] = ()) -> str:
    """``N transport errors`` with the most common error types, e.g. ``(ReadTimeout: 6)``, and
    how many requests were answered only on an idempotent second attempt."""
    text = "0 transport errors"
    if failed:
        kinds = Counter(s.error for s in failed).most_common(3)
        text = f"{len(failed)} transport errors ({', '.join(f'{k}: {n}' for k, n in kinds)})"
    if retried:
        first = retried[0].retried
        text += f"; {len(retried)} answered on an idempotent retry (first: {first})"
    return text


def build_report(
    samples: Sequence[Sample], *, planned: int, elapsed: float, target_rate: float
) -> TrafficReport:
    """Summarise samples: per-kind stats, status counts, sampled errors and the checks. Pure."""
    ordered = sorted(samples, key=lambda s: s.index)
    labels = sorted({s.label for s in ordered})
    by_kind = tuple(_stats(lb, [s for s in ordered if s.label == lb]) for lb in labels)
    malformed = [s for s in ordered if s.expect == "4xx"]
    valid = [s for s in ordered if s.expect == "2xx"]
    failed = [s for s in ordered if s.error is not None]
    checks = (
        _check("malformed requests get a 4xx", malformed, f"{len(malformed)} malformed"),
        _check("valid requests get a 2xx", valid, f"{len(valid)} valid"),
        Check(
            "no transport errors",
            not failed,
            _transport_detail(failed, [s for s in ordered if s.retried]),
        ),
        Check("every planned request sent", len(ordered) == planned, f"{len(ordered)}/{planned}"),
    )
    orders = tuple(
        {
            "order_id": s.order_id,
            "correlation_id": s.correlation_id,
            "kind": s.label,
            "status": s.order_status,
        }
        for s in ordered
        if s.order_id is not None
    )
    return TrafficReport(
        planned=planned,
        sent=len(ordered),
        elapsed_s=elapsed,
        target_rate=target_rate,
        achieved_rate=len(ordered) / elapsed if elapsed > 0 else 0.0,
        by_kind=by_kind,
        status_counts=dict(sorted(Counter(_status_key(s) for s in ordered).items())),
        errors=tuple(
            f"#{s.index} {s.label}: {s.error}" + (f" ({s.detail})" if s.detail else "")
            for s in failed[:20]
        ),
        checks=checks,
        orders=orders,
    )


# --------------------------------------------------------------------------- runner
@dataclass(frozen=True, slots=True)
class TrafficConfig:
    """Options of one traffic run (see ``cutover traffic --help``)."""

    base_url: str
    rate: float = 50.0
    duration: float = 30.0
    count: int | None = None
    concurrency: int = 8
    seed: int = 42
    mix: TrafficMix = DEFAULT_MIX
    run_id: str = ""
    timeout: float = 10.0
    oversize_bytes: int = 256 * 1024
    initial_customers: int = 3

    @property
    def total(self) -> int:
        return self.count if self.count is not None else max(1, round(self.rate * self.duration))

    def validate(self) -> None:
        if self.rate <= 0 or self.concurrency < 1 or self.total < 1 or self.timeout <= 0:
            raise TrafficError("rate, concurrency, count and timeout must be positive")


ProgressHook = Callable[[Sample], None]


class _Customers:
    """Customer ids by the index of the request that created them; orders wait for theirs."""

    def __init__(self) -> None:
        self._ids: dict[int, str | None] = {}
        self._done: dict[int, threading.Event] = {}
        self._lock = threading.Lock()

    def _event(self, index: int) -> threading.Event:
        with self._lock:
            return self._done.setdefault(index, threading.Event())

    def set(self, index: int, customer_id: str | None) -> None:
        self._ids[index] = customer_id
        self._event(index).set()

    def get(self, index: int, timeout: float) -> str | None:
        self._event(index).wait(timeout)
        return self._ids.get(index)


def run_traffic(
    config: TrafficConfig,
    *,
    plan: Sequence[PlannedRequest] | None = None,
    on_sample: ProgressHook | None = None,
    session_factory: Callable[[], requests.Session] = requests.Session,
    preflight: bool = True,
) -> TrafficReport:
    """Send the plan at ``config.rate`` with ``config.concurrency`` workers; bounded in time."""
    config.validate()
    base = config.base_url.rstrip("/")
    if preflight:
        check_health(base, config.timeout)
    planned = (
        list(plan)
        if plan is not None
        else plan_requests(
            config.seed,
            config.total,
            config.mix,
            run_id=config.run_id,
            initial_customers=config.initial_customers,
            oversize_bytes=config.oversize_bytes,
        )
    )
    customers, local = _Customers(), threading.local()
    sessions: list[requests.Session] = []
    slots = threading.BoundedSemaphore(config.concurrency)
    samples: list[Sample] = []
    lock = threading.Lock()

    def work(req: PlannedRequest) -> None:
        try:
            session = getattr(local, "session", None)
            if session is None:
                session = local.session = session_factory()
                with lock:
                    sessions.append(session)
            sample = _send(session, base, req, customers, config.timeout)
            with lock:
                samples.append(sample)
            if on_sample is not None:
                on_sample(sample)
        finally:
            slots.release()

    deadline = config.duration * 2 + config.timeout * 2 + 5
    started = time.monotonic()
    futures: list[Future[None]] = []
    with ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="traffic") as pool:
        for i, req in enumerate(planned):
            delay = started + i / config.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if time.monotonic() - started > deadline or not slots.acquire(timeout=deadline):
                break
            futures.append(pool.submit(work, req))
        try:
            for fut in futures:
                fut.result()
        finally:
            for session in sessions:
                session.close()
    elapsed = time.monotonic() - started
    log.info("traffic_done", sent=len(samples), planned=len(planned), seconds=round(elapsed, 2))
    return build_report(samples, planned=len(planned), elapsed=elapsed, target_rate=config.rate)


def plan_summary(plan: Sequence[PlannedRequest]) -> dict[str, Any]:
    """Counts per kind and the first requests of a plan (what ``--dry-run`` prints)."""
    counts = dict(sorted(Counter(r.label for r in plan).items()))
    head = [
        {"index": r.index, "kind": r.label, "path": r.path, "correlation_id": r.correlation_id}
        for r in plan[:10]
    ]
    return {"requests": len(plan), "by_kind": counts, "first": head}


def check_health(base: str, timeout: float) -> None:
    """Raise :class:`TrafficError` unless ``GET <base>/health`` answers below 500."""
    try:
        resp = requests.get(f"{base}/health", timeout=timeout)
    except requests.RequestException as exc:
        raise TrafficError(
            f"{base}/health unreachable: {type(exc).__name__}", base_url=base
        ) from exc
    if resp.status_code >= 500:
        raise TrafficError(f"{base}/health answered {resp.status_code}", base_url=base)


IDEMPOTENCY_HEADER = "Idempotency-Key"
"""Sent on every POST /orders (the request's correlation id): the sample's order API answers a
repeat with the first answer, so a request whose transport failed is sent once more."""

RETRY_PAUSE_S = 0.2


def _retryable(req: PlannedRequest) -> bool:
    """Whether sending ``req`` twice cannot do the work twice: reads, and idempotent orders."""
    return req.method == "GET" or (req.method == "POST" and req.path == "/orders")


def _send(
    session: requests.Session,
    base: str,
    req: PlannedRequest,
    customers: _Customers,
    timeout: float,
) -> Sample:
    customer_id = None if req.customer_ref is None else customers.get(req.customer_ref, timeout)
    headers = {"Content-Type": "application/json", "X-Correlation-ID": req.correlation_id}
    if req.method == "POST" and req.path == "/orders":
        headers[IDEMPOTENCY_HEADER] = req.correlation_id
    started = time.perf_counter()
    retried: str | None = None
    while True:
        try:
            resp = session.request(
                req.method,
                base + req.path,
                data=req.render(customer_id),
                headers=headers,
                timeout=timeout,
            )
            break
        except requests.RequestException as exc:
            detail = redact(str(exc))[:200]
            error = type(exc).__name__
            log.warning("traffic.transport_error", path=req.path, error=error, detail=detail)
            if retried is None and _retryable(req):
                retried = f"{error}: {detail}"
                time.sleep(RETRY_PAUSE_S)
                continue
            if req.kind is Kind.NEW_CUSTOMER:
                customers.set(req.index, None)
            return Sample(
                req.index, req.label, req.expect, None, _ms(started), error, detail=detail
            )
    latency = _ms(started)
    body = _json_or_none(resp)
    if req.kind is Kind.NEW_CUSTOMER:
        customers.set(req.index, _id_of(body) if resp.ok else None)
    order_id = _id_of(body) if req.path == "/orders" and resp.ok else None
    status = body.get("status") if isinstance(body, dict) else None
    return Sample(
        req.index,
        req.label,
        req.expect,
        resp.status_code,
        latency,
        None,
        order_id,
        req.correlation_id,
        str(status) if status is not None else None,
        retried=retried,
    )


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _json_or_none(resp: requests.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def _id_of(body: Any) -> str | None:
    if isinstance(body, dict) and body.get("id") is not None:
        return str(body["id"])
    return None
