"""Dead letters back through a consumer's handlers, in process, on the runtime's own path.

:func:`replay_letters` feeds the original records to a :class:`~shadow.runtime.ShadowWorker`
one batch of one at a time, through :class:`LetterFeed` (a consumer port over a list) and
:class:`HeldLetters` (a producer port that keeps what would be dead-lettered again instead of
producing it): the same decoding, contract checks, retries and store transaction as a
running worker, so the processed-event claim makes a replay idempotent — an event already
applied comes back ``duplicate`` and is not applied again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from shadow.messages import Headers, RawMessage
from shadow.ports import TP, DeliveryHook, RebalanceHook
from shadow.runtime import ShadowWorker

OUTCOMES = {
    "done": "applied",
    "duplicate": "duplicate",
    "poison": "failed",
    "deferred": "failed",
    "held": "failed",
    "ignored": "ignored",
    "skipped": "ignored",
}
"""A record's status in the runtime's batch report -> the replay's outcome."""


class LetterFeed:
    """:class:`~shadow.ports.ConsumerPort` over a list of records: one per ``consume``, no
    group, nothing committed (the dead-letter topic's own offsets are acknowledged instead)."""

    def __init__(self, records: Sequence[RawMessage]) -> None:
        self._queue = deque(records)
        self._tps = sorted({(m.topic, m.partition) for m in records})
        self.closed = False

    def subscribe(
        self, topics: Sequence[str], on_assign: RebalanceHook, on_revoke: RebalanceHook
    ) -> None:
        on_assign(self._tps)

    def consume(self, num_messages: int, timeout: float) -> list[RawMessage]:
        return [self._queue.popleft()] if self._queue else []

    def store_offsets(self, offsets: dict[TP, int]) -> None:
        return None

    def commit(self) -> None:
        return None

    def commit_note(self, tp: TP, offset: int, note: str) -> None:
        return None

    def seek(self, tp: TP, offset: int) -> None:
        return None

    def pause(self, tps: Sequence[TP]) -> None:
        return None

    def resume(self, tps: Sequence[TP]) -> None:
        return None

    def assignment(self) -> list[TP]:
        return list(self._tps)

    def positions(self) -> dict[TP, int]:
        return {}

    def lag(self) -> dict[TP, int]:
        return {}

    def close(self) -> None:
        self.closed = True


class HeldLetters:
    """:class:`~shadow.ports.ProducerPort` that keeps the records the runtime dead-letters
    again (they are in the dead-letter topic already) and reports them delivered."""

    def __init__(self) -> None:
        self.kept: list[tuple[bytes | None, bytes | None, Headers]] = []
        self._pending: list[DeliveryHook] = []

    def produce(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Headers,
        on_delivery: DeliveryHook,
    ) -> None:
        self.kept.append((key, value, headers))
        self._pending.append(on_delivery)

    def poll(self, timeout: float) -> int:
        pending, self._pending = self._pending, []
        for hook in pending:
            hook(None)
        return len(pending)

    def flush(self, timeout: float) -> int:
        self.poll(timeout)
        return 0


@dataclass(frozen=True, slots=True)
class Replayed:
    """What became of one record: ``applied``, ``duplicate``, ``failed`` or ``ignored``;
    ``reason`` says why it failed again."""

    record: RawMessage
    outcome: str
    reason: str = ""


def replay_letters(
    records: Sequence[RawMessage], worker: Callable[[LetterFeed, HeldLetters], ShadowWorker]
) -> list[Replayed]:
    """Run ``records`` (original records) through the worker ``worker(feed, held)`` builds
    (not yet started), one at a time; the worker is closed afterwards."""
    feed, held = LetterFeed(records), HeldLetters()
    shadow = worker(feed, held)
    shadow.start()
    out: list[Replayed] = []
    try:
        for record in records:
            kept = len(held.kept)
            report = shadow.step()
            status = next(iter(report.statuses), "poison")
            reason = ""
            if len(held.kept) > kept:
                headers = dict(held.kept[-1][2])
                reason = (headers.get("dlq.error.message") or b"").decode("utf-8", "replace")
            out.append(Replayed(record, OUTCOMES.get(status, "failed"), reason))
    finally:
        shadow.close()
    return out
