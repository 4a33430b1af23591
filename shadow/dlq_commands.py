"""``cutover shadow dlq`` as plain functions: list, show, replay and purge dead letters.

Each works on the dead-letter topics (``<group>.dlq``) of the app's selected consumers.
Acknowledgements (:class:`~shadow.dlq_ops.DlqAck`) go to an :class:`~shadow.dlq_ops.AckLog`
(cutover's audit trail, :mod:`phases.dlq_acks`); a gate counts only the dead letters not
acknowledged since its phase started. ``list`` and ``replay`` skip acknowledged letters
unless ``include_acked``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from shadow.config import ShadowConfig
from shadow.dlq_kafka import delete_records, read_all, republish, watermarks
from shadow.dlq_ops import (
    AckLog,
    Coordinates,
    DlqAck,
    Letter,
    LetterFilter,
    acknowledged,
    deletable_up_to,
    is_acknowledged,
    merge,
    ranges_of,
)
from shadow.dlq_payloads import DeadLetterPayloads
from shadow.dlq_replay import HeldLetters, LetterFeed, Replayed, replay_letters
from shadow.errors import DeadLetterNotFound
from shadow.loader import AppConsumer, build_consumer, consumers_of, load_app
from shadow.messages import RawMessage
from shadow.runtime import RuntimeSettings, ShadowWorker


@dataclass(frozen=True, slots=True)
class Listed:
    """A dead letter and whether it was acknowledged."""

    letter: Letter
    acked: bool

    def to_dict(self) -> dict[str, Any]:
        return {**self.letter.to_dict(), "acknowledged": self.acked}


def _topics(config: ShadowConfig) -> Iterator[tuple[AppConsumer, str]]:
    for entry in consumers_of(load_app(config.app), config):
        yield entry, config.dead_letter_topic(entry.group)


def _select(
    config: ShadowConfig, topic: str, flt: LetterFilter, acks: AckLog | None, include_acked: bool
) -> list[Listed]:
    acked = acknowledged(acks.acks(topic), topic) if acks is not None else {}
    out = []
    for msg in read_all(config.bootstrap_servers, topic):
        letter = Letter.from_raw(msg)
        done = is_acknowledged(acked, letter.partition, letter.offset)
        if flt.matches(letter) and (include_acked or not done):
            out.append(Listed(letter, done))
    return out


def dlq_list(
    config: ShadowConfig,
    flt: LetterFilter | None = None,
    *,
    acks: AckLog | None = None,
    include_acked: bool = False,
) -> list[Listed]:
    """The dead letters ``flt`` selects, in every selected consumer's dead-letter topic."""
    return [
        row
        for _entry, topic in _topics(config)
        for row in _select(config, topic, flt or LetterFilter(), acks, include_acked)
    ]


def whole_original(letter: Letter, payloads: DeadLetterPayloads | None) -> RawMessage | None:
    """The original record: as kept in the letter, or — when its value was truncated — key,
    value and headers from its claim check (None when that could not be read)."""
    if not letter.truncated:
        return letter.original()
    found = None if payloads is None or not letter.claim_check else payloads.get(letter.claim_check)
    if found is None:
        return None
    kept = letter.original()
    return RawMessage(
        kept.topic, kept.partition, kept.offset, found.key, found.value, found.headers,
        kept.timestamp_ms,
    )  # fmt: skip


def dlq_show(config: ShadowConfig, where: str) -> Letter:
    """The dead letter at ``where`` (``TOPIC:PARTITION@OFFSET`` of its original record, or
    ``PARTITION@OFFSET`` in the dead-letter topic); raises :class:`DeadLetterNotFound`."""
    coords = Coordinates.parse(where)
    topics = [topic for _entry, topic in _topics(config)]
    for topic in topics:
        for msg in read_all(config.bootstrap_servers, topic):
            letter = Letter.from_raw(msg)
            if coords.matches(letter):
                return letter
    raise DeadLetterNotFound(where, topics)


@dataclass(slots=True)
class DlqReplayReport:
    """What a replay did, per outcome, and what it acknowledged."""

    outcomes: list[tuple[Letter, Replayed]] = field(default_factory=list)
    republished: int = 0
    acks: list[DlqAck] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {"applied": 0, "duplicate": 0, "failed": 0, "ignored": 0}
        for _letter, r in self.outcomes:
            out[r.outcome] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.counts(),
            "republished": self.republished,
            "acknowledged": sum(a.count for a in self.acks),
            "letters": [
                {**letter.to_dict(), "outcome": r.outcome, "failed_again": r.reason}
                for letter, r in self.outcomes
            ],
        }


def _worker_factory(
    config: ShadowConfig, entry: AppConsumer, topic: str
) -> Callable[[LetterFeed, HeldLetters], ShadowWorker]:
    def build(feed: LetterFeed, held: HeldLetters) -> ShadowWorker:
        consumer = build_consumer(load_app(config.app), entry, config.context())
        if consumer.writer is not None:
            consumer.writer.close()  # one letter at a time: the serial path
        settings = RuntimeSettings(
            entry.topics, topic, batch_size=1, batch_timeout=0.0,
            max_attempts=config.max_attempts, pause_seconds=0.0,
        )  # fmt: skip
        return ShadowWorker(feed, held, consumer.store, consumer.processor, settings)

    return build


def dlq_replay(
    config: ShadowConfig,
    flt: LetterFilter,
    *,
    acks: AckLog | None,
    payloads: DeadLetterPayloads | None,
    actor: str,
    include_acked: bool = False,
    republish_to_topic: bool = False,
    out: TextIO,
) -> DlqReplayReport:
    """Run the selected letters back through their consumer's handlers in this process
    (idempotent: what was applied comes back ``duplicate``), or with ``republish_to_topic``
    produce them to their original topics; acknowledge what was applied, duplicate or
    republished. Letters that fail again stay (unacknowledged)."""
    report = DlqReplayReport()
    for entry, topic in _topics(config):
        rows = _select(config, topic, flt, acks, include_acked)
        ready = [(r.letter, whole_original(r.letter, payloads)) for r in rows]
        report.outcomes += [
            (letter, Replayed(letter.original(), "failed", "claim check not found"))
            for letter, record in ready
            if record is None
        ]
        todo = [(letter, record) for letter, record in ready if record is not None]
        if republish_to_topic:
            report.republished += republish(config.bootstrap_servers, [r for _x, r in todo])
            done = [letter for letter, _record in todo]
        else:
            replayed = replay_letters([r for _x, r in todo], _worker_factory(config, entry, topic))
            pairs = list(zip((letter for letter, _r in todo), replayed, strict=True))
            report.outcomes += pairs
            done = [letter for letter, r in pairs if r.outcome in ("applied", "duplicate")]
        if done and acks is not None:
            ack = _ack(topic, done, "replay", actor, flt)
            acks.record(ack)
            report.acks.append(ack)
    counts = report.counts()
    out.write(
        f"replayed: {counts['applied']} applied, {counts['duplicate']} duplicate, "
        f"{counts['failed']} failed again, {counts['ignored']} ignored"
        + (f", {report.republished} republished" if republish_to_topic else "")
        + (
            f"; acknowledged {sum(a.count for a in report.acks)}\n"
            if acks is not None
            else "; nothing acknowledged (no state store: --plan or CUTOVER_STATE_URL)\n"
        )
    )
    return report


def _ack(
    topic: str,
    letters: list[Letter],
    action: str,
    actor: str,
    flt: LetterFilter,
    *,
    deleted: dict[int, int] | None = None,
) -> DlqAck:
    return DlqAck(
        topic=topic,
        ranges=ranges_of((x.partition, x.offset) for x in letters),
        count=len(letters),
        action=action,
        actor=actor,
        filter=flt.to_dict(),
        deleted_up_to=deleted or {},
        at=datetime.now(UTC),
    )


def _deletable(
    config: ShadowConfig, topic: str, acks: AckLog, letters: list[Letter]
) -> dict[int, int]:
    """Per partition, the end of its acknowledged prefix (with ``letters``), where it moves."""
    ranges = merge(
        acknowledged(acks.acks(topic), topic), ranges_of((x.partition, x.offset) for x in letters)
    )
    out: dict[int, int] = {}
    for partition, (low, _high) in watermarks(config.bootstrap_servers, topic).items():
        end = deletable_up_to(low, ranges.get(partition, []))
        if end > low:
            out[partition] = end
    return out


def _claim_checks_below(config: ShadowConfig, topic: str, up_to: dict[int, int]) -> list[str]:
    if not up_to:
        return []
    letters = (Letter.from_raw(m) for m in read_all(config.bootstrap_servers, topic))
    return [
        x.claim_check for x in letters if x.claim_check and x.offset < up_to.get(x.partition, -1)
    ]


def dlq_purge(
    config: ShadowConfig,
    flt: LetterFilter,
    *,
    acks: AckLog,
    payloads: DeadLetterPayloads | None,
    actor: str,
    delete: bool = False,
) -> list[DlqAck]:
    """Acknowledge the selected (unacknowledged) letters: one audit row per dead-letter
    topic. With ``delete``, Kafka's deleteRecords then removes each partition's acknowledged
    prefix (never an unacknowledged record; letters acknowledged before included), and the
    claim checks of the letters it removed."""
    out: list[DlqAck] = []
    for _entry, topic in _topics(config):
        letters = [r.letter for r in _select(config, topic, flt, acks, False)]
        deleted = _deletable(config, topic, acks, letters) if delete else {}
        if not letters and not deleted:
            continue
        checks = _claim_checks_below(config, topic, deleted) if payloads is not None else []
        ack = _ack(topic, letters, "purge", actor, flt, deleted=deleted)
        acks.record(ack)  # the audit row first: deleted records are gone for good
        delete_records(config.bootstrap_servers, topic, deleted)
        if payloads is not None and checks:
            payloads.delete(checks)
        out.append(ack)
    return out
