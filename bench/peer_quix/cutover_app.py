"""cutover's side of the peer benchmark: the projection as a shadow app's handler.

The same projection as ``bench/peer_quix/quix_app.py``: per ``item.viewed`` event, one view and
its amount added to ``item_minute`` (item id, minute of the event's ``at``). The handler uses
the batch form (``Handle.write``: queued, one ``executemany`` per batch in the batch's
transaction); the runtime claims each event id in ``processed_events`` in that same
transaction, so an event delivered twice counts once, and stores the offsets only after the
commit. A failing event is retried, then dead-lettered with its reason (``<group>.dlq``).

``main`` runs one worker the way ``cutover shadow run`` does (the worker's default batch size
and timeout, GC tuned, SIGTERM finishes the batch and closes), started as a subprocess by
``bench/bench_peer_quix.py``; it writes the wall-clock time of the first record it got to the
file named by ``BENCH_FIRST_RECORD_FILE`` (the bench's clock starts there).

    .venv/bin/python bench/peer_quix/cutover_app.py --broker 127.0.0.1:9092 --topic T \\
        --group G --dsn "postgresql://..."
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cutover.shadow import Event, Handle, ShadowApp, WorkerContext
from cutover_common.logging import configure_logging
from shadow.app import handler_consumer
from shadow.config import ShadowConfig
from shadow.kafka import KafkaConsumerAdapter, KafkaProducerAdapter, consumer_config
from shadow.messages import RawMessage
from shadow.runtime import RuntimeSettings, ShadowWorker, tune_gc

SCHEMA = "shadow"
UPSERT = (
    "INSERT INTO item_minute (item_id, minute, views, amount) "
    "VALUES (:item, CAST(:minute AS timestamptz), 1, CAST(:amount AS numeric)) "
    "ON CONFLICT (item_id, minute) DO UPDATE SET views = item_minute.views + 1, "
    "amount = item_minute.amount + excluded.amount"
)

app = ShadowApp(
    "bench-peer",
    tables=[
        "CREATE TABLE IF NOT EXISTS item_minute (item_id text NOT NULL,"
        " minute timestamptz NOT NULL, views bigint NOT NULL, amount numeric(14,2) NOT NULL,"
        " PRIMARY KEY (item_id, minute))"
    ],
)


@app.handler("item.viewed")
def item_viewed(event: Event, tx: Handle) -> None:
    """One view and its amount for the item's minute (the batch form)."""
    p = event.payload
    tx.write(UPSERT, {"item": p["item_id"], "minute": p["at"][:16] + ":00Z", "amount": p["amount"]})


class _MarkFirst(KafkaConsumerAdapter):
    """The Kafka consumer, writing the time of the first record it returns to ``mark``."""

    def __init__(self, config: dict[str, object], mark: str | None) -> None:
        super().__init__(config)
        self._mark = mark

    def consume(self, num_messages: int, timeout: float) -> list[RawMessage]:
        got = super().consume(num_messages, timeout)
        if got and self._mark is not None:
            Path(self._mark).write_text(repr(time.time()))
            self._mark = None
        return got


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--dsn", required=True)
    args = parser.parse_args(argv)
    configure_logging(level="WARNING", stream=sys.stderr)
    consumer = handler_consumer(app, WorkerContext(args.dsn, SCHEMA, "dual"))
    consumer.store.ensure_schema()
    defaults = ShadowConfig.__dataclass_fields__
    worker = ShadowWorker(
        _MarkFirst(
            consumer_config(args.broker, args.group), os.environ.get("BENCH_FIRST_RECORD_FILE")
        ),
        KafkaProducerAdapter(args.broker),
        consumer.store,
        consumer.processor,
        RuntimeSettings(
            (args.topic,),
            f"{args.group}.dlq",
            batch_size=defaults["batch_size"].default,
            batch_timeout=defaults["batch_timeout"].default,
        ),
        writer=consumer.writer,
    )
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    tune_gc()  # as every `cutover shadow run` worker process does
    worker.start()
    worker.run(stop.is_set)
    return 0


if __name__ == "__main__":
    sys.exit(main())
