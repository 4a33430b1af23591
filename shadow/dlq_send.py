"""Producing dead letters so that no record stops a worker.

:meth:`DeadLetterSender.send` produces a batch's dead letters and reports, per original
record, the ones it could not deliver and why; it never raises. A letter larger than the
limit (``max_bytes``, below the producer's ``message.max.bytes``) has its whole original
kept as a claim check in the shadow store first (:mod:`shadow.dlq_payloads`; durable before
the runtime stores the record's offset) and goes with its value cut; if the claim-check store
is unavailable it goes cut all the same, with ``dlq.claim_check.error``. A letter refused as
too large (by the client or the broker) is sent once more with no value and no original
headers. Any other failure — an exception from ``produce``, a delivery error, a delivery
still outstanding at the end of ``flush`` (the topic is missing or the broker unreachable) —
leaves the letter undelivered: the runtime defers its record and reports the partition stuck.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import structlog

from shadow.dlq import DeadLetter
from shadow.dlq_payloads import DeadLetterPayload, DeadLetterPayloads
from shadow.errors import ShadowError
from shadow.ports import ProducerPort

log = structlog.get_logger(__name__)

Coordinates = tuple[str, int, int]
"""An original record as ``(topic, partition, offset)``."""

DEFAULT_MAX_BYTES = 900_000
"""Below librdkafka's default ``message.max.bytes`` (1,000,000) and the broker's default
``max.message.bytes`` (1,048,588)."""


def too_large(error: str) -> bool:
    """Whether a produce or delivery error says the record is too large."""
    return "TOO_LARGE" in error.upper()


def _coordinates(letter: DeadLetter) -> Coordinates:
    return letter.coordinates_tuple


class DeadLetterSender:
    """Produces the dead letters of a batch onto ``topic`` (see the module docstring)."""

    def __init__(
        self,
        producer: ProducerPort,
        topic: str,
        *,
        payloads: DeadLetterPayloads | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        flush_timeout: float = 30.0,
    ) -> None:
        self.producer = producer
        self.topic = topic
        self.payloads = payloads
        self.max_bytes = max_bytes
        self.flush_timeout = flush_timeout

    def send(self, letters: Sequence[DeadLetter]) -> dict[Coordinates, str]:
        """Produce ``letters`` and wait for them; the undelivered ones, with the reason."""
        refused = self._round([self._fitted(letter) for letter in letters])
        if not refused:
            return {}
        retry = [self._bare(letter) for letter, error in refused.values() if too_large(error)]
        failed = {c: error for c, (_letter, error) in refused.items() if not too_large(error)}
        failed.update((c, error) for c, (_letter, error) in self._round(retry).items())
        return failed

    def _round(self, letters: Sequence[DeadLetter]) -> dict[Coordinates, tuple[DeadLetter, str]]:
        """Produce and flush once; the letters not delivered, with the error."""
        if not letters:
            return {}
        outcome: dict[Coordinates, str | None] = {}
        refused: dict[Coordinates, tuple[DeadLetter, str]] = {}
        for letter in letters:
            error = self._produce(letter, outcome)
            if error is not None:
                refused[_coordinates(letter)] = (letter, error)
        remaining = self._flush()
        for letter in letters:
            c = _coordinates(letter)
            if c in refused:
                continue
            if c not in outcome:
                refused[c] = (letter, f"not delivered within {self.flush_timeout:g} s "
                                      f"({remaining} outstanding)")  # fmt: skip
            elif (error := outcome[c]) is not None:
                refused[c] = (letter, error)
        return refused

    def _produce(self, letter: DeadLetter, outcome: dict[Coordinates, str | None]) -> str | None:
        """Hand one letter to the producer; the error when it refused it at once."""
        c = _coordinates(letter)

        def delivered(error: str | None) -> None:
            outcome[c] = error

        for attempt in (1, 2):
            try:
                self.producer.produce(
                    self.topic, letter.original.key, letter.value, letter.headers(), delivered
                )
                return None
            except BufferError:  # the local queue is full: let it drain, once
                if attempt == 2:
                    return "the producer's queue stayed full"
                self._flush()
            except Exception as exc:  # whatever the client raises, this record only
                return f"{type(exc).__name__}: {exc}"[:500]
        return None  # pragma: no cover (the loop returns)

    def _flush(self) -> int:
        try:
            return self.producer.flush(self.flush_timeout)
        except Exception as exc:
            log.error("dead_letter_flush_failed", error=f"{type(exc).__name__}: {exc}"[:300])
            return -1

    def _fitted(self, letter: DeadLetter) -> DeadLetter:
        """``letter`` as it can go: claim-checked and cut when larger than the limit."""
        if letter.size() <= self.max_bytes:
            return letter
        return self._claim_checked(letter).fitted(self.max_bytes)

    def _bare(self, letter: DeadLetter) -> DeadLetter:
        """``letter`` with no value and no original headers (refused as too large)."""
        checked = letter if letter.claim_check else self._claim_checked(letter)
        return replace(checked, value_limit=0, slim=True)

    def _claim_checked(self, letter: DeadLetter) -> DeadLetter:
        """``letter`` naming its whole original kept in the claim-check store, or saying why
        it could not be kept."""
        if self.payloads is None:
            return replace(letter, claim_check_error="no claim-check store configured")
        try:
            claim_check = self.payloads.store(
                DeadLetterPayload.of(letter.consumer, letter.original)
            )
        except ShadowError as exc:
            log.error("claim_check_failed", record=letter.coordinates, error=str(exc)[:300])
            return replace(letter, claim_check_error=str(exc))
        return replace(letter, claim_check=claim_check, claim_check_error=None)
