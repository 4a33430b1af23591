"""The peer: the bench's idempotent read-model projection as a quixstreams application.

Runs in its own virtualenv (``bench/peer_quix/setup.sh`` -> ``.cache/quix-venv``: quixstreams
pins an older confluent-kafka and pydantic than cutover's), started by
``bench/bench_peer_quix.py`` as a subprocess and stopped by it with SIGTERM once every event
is applied (it writes the wall-clock time of the first record it got to the file named by
``BENCH_FIRST_RECORD_FILE``: the bench's clock starts there).

The projection, the same as the cutover side's (``bench/peer_quix/cutover_app.py``): per
``item.viewed`` event, add one view and its amount to ``item_minute`` (item id, minute of the
event's ``at``). It is written the idiomatic quixstreams way, a ``BatchingSink``: quixstreams
hands the sink the records of each partition since the last checkpoint, flushes them at the
checkpoint (``commit_interval`` seconds or ``commit_every`` records) and commits the offsets
only after every sink flushed, so delivery to the sink is at-least-once. The sink makes the
effect idempotent: in one PostgreSQL transaction per partition batch it claims the event ids
in ``peer_seen`` (``ON CONFLICT DO NOTHING RETURNING``) and upserts only the events it
claimed, so an event delivered twice (a redelivery after a crash, or the bench's duplicate
records) counts once. No dead-letter topic: an exception stops the application (quixstreams'
default ``on_processing_error``).

    .cache/quix-venv/bin/python bench/peer_quix/quix_app.py --broker 127.0.0.1:9092 \
        --topic T --group G --dsn "postgresql://..."
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import Any

import psycopg
from quixstreams import Application
from quixstreams.sinks import BatchingSink, SinkBatch

DDL = (
    "CREATE TABLE IF NOT EXISTS item_minute (item_id text NOT NULL, minute timestamptz NOT NULL,"
    " views bigint NOT NULL, amount numeric(14,2) NOT NULL, PRIMARY KEY (item_id, minute))",
    "CREATE TABLE IF NOT EXISTS peer_seen (event_id text PRIMARY KEY)",
)
CLAIM = (
    "INSERT INTO peer_seen (event_id) SELECT unnest(%s::text[]) "
    "ON CONFLICT DO NOTHING RETURNING event_id"
)
UPSERT = (
    "INSERT INTO item_minute (item_id, minute, views, amount) VALUES (%s, %s, 1, %s) "
    "ON CONFLICT (item_id, minute) DO UPDATE SET views = item_minute.views + 1, "
    "amount = item_minute.amount + excluded.amount"
)


def minute_of(at: str) -> str:
    """``2026-12-06T10:01:23.456Z`` -> ``2026-12-06T10:01:00Z`` (the same as the cutover side)."""
    return at[:16] + ":00Z"


def _event_id(headers: Any) -> str:
    for name, value in headers or ():
        if name == "id" and value is not None:
            text = value.decode()
            return text[1:-1] if text[:1] == '"' else text
    raise ValueError("record without an id header")


class ItemMinuteSink(BatchingSink):
    """Idempotent upserts of the per-item-per-minute counters, one transaction per batch."""

    def __init__(self, dsn: str, first_record_file: str | None = None) -> None:
        super().__init__()
        self._dsn = dsn
        self._conn: psycopg.Connection[Any] | None = None
        self._first_record_file = first_record_file

    def add(self, *args: Any, **kwargs: Any) -> None:
        if self._first_record_file is not None:  # the bench's clock starts at the first record
            with open(self._first_record_file, "w") as out:
                out.write(repr(time.time()))
            self._first_record_file = None
        super().add(*args, **kwargs)

    def setup(self) -> None:
        self._conn = psycopg.connect(self._dsn)
        with self._conn.transaction():
            for ddl in DDL:
                self._conn.execute(ddl)

    def write(self, batch: SinkBatch) -> None:
        assert self._conn is not None
        rows: dict[str, tuple[str, str, str]] = {}
        for item in batch:
            value = item.value
            rows.setdefault(
                _event_id(item.headers),
                (value["item_id"], minute_of(value["at"]), value["amount"]),
            )  # an id twice in one batch counts once, like an id already in peer_seen
        with self._conn.transaction(), self._conn.cursor() as cur:
            cur.execute(CLAIM, (list(rows),))
            claimed = [rows[eid] for (eid,) in cur.fetchall()]
            if claimed:
                cur.executemany(UPSERT, claimed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--commit-interval", type=float, default=0.5)
    parser.add_argument("--commit-every", type=int, default=0)
    args = parser.parse_args(argv)
    app = Application(
        broker_address=args.broker,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        commit_interval=args.commit_interval,
        commit_every=args.commit_every,
        processing_guarantee="at-least-once",
        use_changelog_topics=False,
        auto_create_topics=False,
        loglevel=logging.WARNING,
    )
    topic = app.topic(args.topic, key_deserializer="str", value_deserializer="json")
    sink = ItemMinuteSink(args.dsn, os.environ.get("BENCH_FIRST_RECORD_FILE"))
    app.dataframe(topic).sink(sink)
    app.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
