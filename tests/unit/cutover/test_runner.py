"""The migration runner per mode with fakes, and its failure paths."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from cutover import (
    InvalidVerify,
    Migration,
    Mode,
    RecordedRequest,
    SyncCallBlocked,
    Verify,
    correlation_scope,
)
from cutover.modes import ModeSwitch, StaticModes
from cutover.verify import MemoryLedger


class Calls:
    """The application's two paths, counting what ran."""

    def __init__(self) -> None:
        self.sync = 0
        self.events: list[Any] = []

    def sync_call(self) -> str:
        self.sync += 1
        return "sent"

    def write_events(self, tx: Any) -> None:
        self.events.append(tx)


def migration(mode: Mode | str, ledger: MemoryLedger, **kw: Any) -> tuple[Migration, StaticModes]:
    reader = StaticModes({"favorite": mode})
    return Migration("favorite", ModeSwitch(reader), ledger, **kw), reader


TX = object()


def run(m: Migration, calls: Calls, verify: Verify | None = None) -> Any:
    return m.run(
        TX, key="a-1", operation="notify", sync=calls.sync_call, events=calls.write_events,
        verify=verify,
    )  # fmt: skip


def test_sync_runs_the_sync_call_only_and_returns_its_answer() -> None:
    ledger, calls = MemoryLedger(), Calls()
    out = run(migration("sync", ledger)[0], calls)
    assert (out.mode, out.value, calls.sync, calls.events) == (Mode.SYNC, "sent", 1, [])
    assert ledger.verified == []


def test_dual_runs_the_sync_call_and_writes_events_in_the_callers_transaction() -> None:
    ledger, calls = MemoryLedger(), Calls()
    out = run(migration("dual", ledger)[0], calls)
    assert (out.value, calls.sync, calls.events) == ("sent", 1, [TX])
    assert out.wrote_events and out.ran_sync


def test_dual_writes_no_event_when_the_sync_call_raises() -> None:
    ledger, calls = MemoryLedger(), Calls()

    def failing() -> str:
        raise RuntimeError("downstream down")

    with pytest.raises(RuntimeError):
        migration("dual", ledger)[0].run(
            TX, key="a-1", operation="notify", sync=failing, events=calls.write_events
        )
    assert calls.events == []


def test_naive_dual_runs_as_sync_the_sdk_writes_no_event() -> None:
    ledger, calls = MemoryLedger(), Calls()
    out = run(migration("naive-dual", ledger)[0], calls)
    assert (out.mode, out.value, calls.sync, calls.events) == (Mode.NAIVE_DUAL, "sent", 1, [])


def test_async_writes_events_and_records_the_dry_run_answer_without_the_sync_call() -> None:
    ledger, calls = MemoryLedger(), Calls()
    verify = Verify(dry_run=lambda: {"status": "would-send", "amount": Decimal("9.50")})
    with correlation_scope("corr-1"):
        out = run(migration("async", ledger)[0], calls, verify)
    assert (out.value, calls.sync, calls.events) == (None, 0, [TX])
    [record] = ledger.verified
    assert (record.key, record.operation, record.form, record.inconclusive) == (
        "a-1", "notify", "dry-run", False,
    )  # fmt: skip
    assert record.correlation_id == "corr-1"
    doc = record.document()
    assert doc["status"] == "would-send"
    assert doc["answer"] == {"status": "would-send", "amount": "9.50"}
    assert out.verify == record


def test_async_by_recorded_request_records_the_request_instead_of_sending_it() -> None:
    ledger, calls = MemoryLedger(), Calls()
    verify = Verify(
        request=lambda: RecordedRequest(
            "post", "http://mail.local/send", {"to": "a@b.c"},
            {"Authorization": "Bearer s3cr3t", "X-Trace": "1"},
        )
    )  # fmt: skip
    run(migration("async", ledger)[0], calls, verify)
    [record] = ledger.verified
    assert record.form == "recorded-request"
    assert record.answer == {
        "method": "POST",
        "url": "http://mail.local/send",
        "body": {"to": "a@b.c"},
        "headers": {"X-Trace": "1"},
    }
    assert calls.sync == 0


def test_a_verify_timeout_is_recorded_inconclusive_and_not_raised() -> None:
    ledger, calls = MemoryLedger(), Calls()
    release = threading.Event()
    started = time.perf_counter()
    out = run(
        migration("async", ledger, verify_timeout=0.05)[0],
        calls,
        Verify(dry_run=lambda: release.wait(5)),
    )
    release.set()
    assert time.perf_counter() - started < 1.0
    [record] = ledger.verified
    assert (record.inconclusive, record.reason, record.answer) == (
        True,
        "timeout after 0.05s",
        None,
    )
    assert out.verify is not None and out.verify.inconclusive
    assert record.document()["inconclusive"] is True


def test_a_verify_error_is_recorded_inconclusive_and_not_raised() -> None:
    ledger, calls = MemoryLedger(), Calls()

    def broken() -> Any:
        raise ConnectionError("refused by http://user:hunter2@pay.local")

    run(migration("async", ledger)[0], calls, Verify(dry_run=broken))
    [record] = ledger.verified
    assert record.inconclusive
    assert record.reason is not None and record.reason.startswith("ConnectionError: refused")
    assert "hunter2" not in record.reason


def test_async_without_a_verify_form_records_an_inconclusive_run() -> None:
    ledger, calls = MemoryLedger(), Calls()
    run(migration("async", ledger)[0], calls)
    assert [(r.inconclusive, r.reason) for r in ledger.verified] == [(True, "no verify form given")]


def test_a_ledger_that_fails_never_fails_the_request() -> None:
    class Broken(MemoryLedger):
        def record_verify(self, record: Any) -> None:
            raise ConnectionError("ledger down")

    calls = Calls()
    out = run(migration("async", Broken())[0], calls, Verify(dry_run=lambda: {"ok": True}))
    assert out.verify is not None and out.verify.answer == {"ok": True}


def test_events_only_writes_events_and_runs_no_sync_call_and_no_verify() -> None:
    ledger, calls = MemoryLedger(), Calls()
    out = run(migration("events-only", ledger)[0], calls, Verify(dry_run=calls.sync_call))
    assert (out.value, calls.sync, calls.events, ledger.verified) == (None, 0, [TX], [])


def test_an_attempted_sync_call_in_events_only_is_recorded_blocked_and_not_executed() -> None:
    ledger, calls = MemoryLedger(), Calls()
    m = migration("events-only", ledger)[0]
    with correlation_scope("corr-9"), pytest.raises(SyncCallBlocked) as err:
        m.call_sync("notify", calls.sync_call, key="a-1")
    assert calls.sync == 0
    assert [(b.context, b.operation, b.key, b.correlation_id) for b in ledger.blocked] == [
        ("favorite", "notify", "a-1", "corr-9")
    ]
    assert err.value.exit_code == 10


@pytest.mark.parametrize("mode", ["sync", "dual", "async"])
def test_a_guarded_sync_call_runs_in_the_other_modes(mode: str) -> None:
    ledger, calls = MemoryLedger(), Calls()
    assert migration(mode, ledger)[0].call_sync("notify", calls.sync_call) == "sent"
    assert ledger.blocked == []


def test_the_mode_is_read_per_run_so_a_flip_applies_to_the_next_request() -> None:
    ledger, calls = MemoryLedger(), Calls()
    reader = StaticModes({"favorite": "dual"})
    m = Migration("favorite", ModeSwitch(reader, ttl=0.0), ledger)
    assert run(m, calls).mode is Mode.DUAL
    reader.set("favorite", "async")
    assert run(m, calls, Verify(dry_run=lambda: 1)).mode is Mode.ASYNC


def test_record_verify_stores_an_answer_obtained_by_the_caller() -> None:
    @dataclass(frozen=True)
    class Answer:
        status: str
        amount: Decimal

    ledger = MemoryLedger()
    m = migration("async", ledger)[0]
    m.record_verify("a-1", "charge", Answer("captured", Decimal("3.00")))
    assert ledger.verified[0].document()["amount"] == "3.00"


def test_a_verify_takes_exactly_one_form() -> None:
    with pytest.raises(InvalidVerify):
        Verify()
    with pytest.raises(InvalidVerify):
        Verify(dry_run=lambda: 1, request=lambda: RecordedRequest("GET", "http://x"))
    with pytest.raises(InvalidVerify):
        Migration("favorite", ModeSwitch(StaticModes()), MemoryLedger(), verify_timeout=0)


def test_a_recorded_requests_document_masks_secrets_in_its_url() -> None:
    doc = RecordedRequest(
        "post", "https://svc:pw-1@pay.example/charge?api_key=abc123&amount=5"
    ).document()
    assert doc["url"] == "https://svc:***@pay.example/charge?api_key=***&amount=5"
    assert doc["method"] == "POST"
