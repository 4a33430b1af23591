"""The idempotency rules (cutover.Idempotency) over the store contract, on the fake and SQLite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, create_mock_engine

import cutover
from cutover import (
    Idempotency,
    IdempotencyOptions,
    MemoryIdempotencyStore,
    Mismatch,
    Proceed,
    Replay,
    SqlIdempotencyStore,
    StillRunning,
    StoredResponse,
    request_fingerprint,
)
from tests.support.idempotency_contract import ANSWER, T0, IdempotencyStoreContract


class TestMemoryStore(IdempotencyStoreContract):
    @pytest.fixture
    def store(self) -> MemoryIdempotencyStore:
        return MemoryIdempotencyStore()


class TestSqliteStore(IdempotencyStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SqlIdempotencyStore]:
        engine = create_engine(f"sqlite+pysqlite:///{tmp_path / 'app.db'}")
        cutover.init_state(engine)
        yield SqlIdempotencyStore(engine)
        engine.dispose()


def test_the_sql_store_refuses_other_databases() -> None:
    engine = create_mock_engine("mysql://", executor=lambda *_: None)
    with pytest.raises(cutover.IdempotencyStoreError, match="mysql is not supported"):
        SqlIdempotencyStore(engine)  # type: ignore[arg-type]


# -- fingerprints ----------------------------------------------------------------------------
def test_key_order_and_whitespace_do_not_change_a_json_fingerprint() -> None:
    a = request_fingerprint("POST", "/orders", b'{"a": 1, "b": [1, 2]}', json_body=True)
    b = request_fingerprint("post", "/orders", b'{"b":[1,2],"a":1}', json_body=True)
    assert a == b and len(a) == 64


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/orders", b'{"a":1}'),
        ("POST", "/other", b'{"a":1}'),
        ("POST", "/orders", b'{"a":2}'),
    ],
)
def test_method_path_and_body_each_change_the_fingerprint(
    method: str, path: str, body: bytes
) -> None:
    base = request_fingerprint("POST", "/orders", b'{"a":1}', json_body=True)
    assert request_fingerprint(method, path, body, json_body=True) != base


def test_a_body_that_is_not_json_is_fingerprinted_as_bytes() -> None:
    assert request_fingerprint("POST", "/x", b"{oops", json_body=True) == request_fingerprint(
        "POST", "/x", b"{oops", json_body=False
    )
    assert request_fingerprint("POST", "/x", b"a b", json_body=False) != request_fingerprint(
        "POST", "/x", b"a  b", json_body=False
    )


def test_a_json_body_too_deep_is_refused_before_parsing() -> None:
    with pytest.raises(cutover.JsonTooDeep, match="deeper than 64 levels"):
        request_fingerprint("POST", "/x", b"[" * 1000 + b"]" * 1000, json_body=True)


# -- options ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kw",
    [
        {"retention": timedelta(0)},
        {"poll": 0.0},
        {"poll": 1.0, "max_poll": 0.5},
        {"lease": timedelta(seconds=5), "wait": timedelta(seconds=5)},
        {"max_json_depth": 0},
    ],
)
def test_options_out_of_range_are_refused(kw: dict[str, object]) -> None:
    with pytest.raises(cutover.InvalidIdempotencyOptions):
        IdempotencyOptions(**kw)  # type: ignore[arg-type]


# -- the rules -------------------------------------------------------------------------------
class Clock:
    """A clock the test moves; ``sleep`` moves it and runs ``on_sleep`` once."""

    def __init__(self) -> None:
        self.now = T0
        self.slept: list[float] = []
        self.on_sleep: Callable[[], object] | None = None

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)
        if self.on_sleep is not None:
            action, self.on_sleep = self.on_sleep, None
            action()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def guard(clock: Clock) -> Idempotency:
    options = IdempotencyOptions(wait=timedelta(seconds=2), lease=timedelta(seconds=30))
    return Idempotency(MemoryIdempotencyStore(), options, clock=clock, sleep=clock.sleep)


FP = "a" * 64


def held(guard: Idempotency, key: str = "k") -> Proceed:
    decision = guard.begin("orders", key, FP)
    assert isinstance(decision, Proceed)
    return decision


def test_a_repeat_after_the_first_gets_its_response(guard: Idempotency) -> None:
    first = held(guard)
    assert guard.finish("orders", "k", first.token, ANSWER) is True
    assert guard.begin("orders", "k", FP) == Replay(ANSWER)


def test_a_repeat_with_another_fingerprint_is_a_mismatch(guard: Idempotency) -> None:
    held(guard)
    assert guard.begin("orders", "k", "b" * 64) == Mismatch()


def test_keys_are_apart_per_scope(guard: Idempotency) -> None:
    held(guard)
    assert isinstance(guard.begin("tickets", "k", "b" * 64), Proceed)


def test_a_concurrent_repeat_waits_for_the_first(guard: Idempotency, clock: Clock) -> None:
    first = held(guard)
    clock.on_sleep = lambda: guard.finish("orders", "k", first.token, ANSWER)
    assert guard.begin("orders", "k", FP) == Replay(ANSWER)
    assert clock.slept == [0.02]


def test_a_repeat_gives_up_after_the_wait_with_a_retry_after(
    guard: Idempotency, clock: Clock
) -> None:
    held(guard)
    assert guard.begin("orders", "k", FP) == StillRunning(retry_after=1)
    assert sum(clock.slept) >= 2.0
    assert max(clock.slept) == 0.25  # backoff capped at max_poll


@pytest.mark.parametrize("status", [500, 503])
def test_a_5xx_answer_releases_the_key(guard: Idempotency, status: int) -> None:
    first = held(guard)
    assert guard.finish("orders", "k", first.token, StoredResponse(status, (), b"{}")) is True
    assert isinstance(guard.begin("orders", "k", FP), Proceed)


def test_a_4xx_answer_is_kept_like_any_other(guard: Idempotency) -> None:
    first = held(guard)
    rejected = StoredResponse(422, (), b'{"error": "unknown sku"}')
    guard.finish("orders", "k", first.token, rejected)
    assert guard.begin("orders", "k", FP) == Replay(rejected)


def test_an_abandoned_key_lets_the_repeat_do_the_work(guard: Idempotency) -> None:
    first = held(guard)
    assert guard.abandon("orders", "k", first.token) is True
    assert isinstance(guard.begin("orders", "k", FP), Proceed)


def test_a_crashed_holder_is_taken_over_after_its_lease(guard: Idempotency, clock: Clock) -> None:
    crashed = held(guard)
    clock.now += timedelta(seconds=30)
    retry = held(guard)
    assert retry.token != crashed.token
    assert guard.finish("orders", "k", crashed.token, ANSWER) is False  # too late


def test_an_expired_key_is_used_afresh_and_purged(guard: Idempotency, clock: Clock) -> None:
    first = held(guard, "old")
    guard.finish("orders", "old", first.token, ANSWER)
    clock.now += timedelta(hours=24)
    assert isinstance(guard.begin("orders", "old", "b" * 64), Proceed)
    held(guard, "other")
    clock.now += timedelta(hours=24)
    assert guard.purge() == 2
