"""``cutover shadow status`` on the real Kafka after ``delete_records`` passed the group's
committed offset: lag counts from the log start (records deleted unread are no lag), they are
reported ``expired`` one for one, and lag is stated in ms too."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from rehearsal.stack.endpoints import Endpoints
from shadow.cli import shadow

pytestmark = pytest.mark.integration

PRODUCED = {0: 10, 1: 3}
COMMITTED = {0: 4, 1: 1}
DELETED_TO = {0: 10, 1: 2}  # every unread record of partition 0; one of partition 1


@pytest.fixture
def topic(endpoints: Endpoints, unique: str) -> Iterator[str]:
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    admin = AdminClient({"bootstrap.servers": endpoints.bootstrap_servers})
    name = f"t{unique}.status"
    admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])[name].result()
    yield name
    admin.delete_topics([name], operation_timeout=30)[name].result()


def test_status_after_records_deleted_unread_shows_them_expired_not_lag(
    endpoints: Endpoints, topic: str, unique: str, fresh_database: str
) -> None:
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient

    conf = {"bootstrap.servers": endpoints.bootstrap_servers}
    group = f"t-{unique}-status"
    base_ms = int(time.time() * 1000) - 60_000
    producer = Producer(conf)
    for part, n in PRODUCED.items():
        for i in range(n):
            producer.produce(topic, key=f"k{i}", value=b"{}", partition=part, timestamp=base_ms)
    producer.flush(10)
    consumer = Consumer({**conf, "group.id": group, "enable.auto.commit": False})
    consumer.commit(
        offsets=[TopicPartition(topic, p, o) for p, o in COMMITTED.items()], asynchronous=False
    )
    consumer.close()
    admin = AdminClient(conf)  # kept alive until its futures resolve
    deleted = admin.delete_records([TopicPartition(topic, p, o) for p, o in DELETED_TO.items()])
    for future in deleted.values():
        future.result()

    started = time.monotonic()
    result = CliRunner().invoke(
        shadow,
        [
            "--dsn",
            endpoints.dsn(fresh_database),
            "--bootstrap",
            endpoints.bootstrap_servers,
            "--group",
            group,
            "--topic",
            topic,
            "status",
            "--app",
            "legacy_app.orderflow.app:app",
            "--json",
        ],
    )
    seconds = time.monotonic() - started
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    parts = {p["partition"]: p for p in data["lag"][group]}
    assert (parts[0]["lag"], parts[0]["expired"], parts[0]["log_start"]) == (0, 6, 10)
    assert (parts[1]["lag"], parts[1]["expired"], parts[1]["log_start"]) == (1, 1, 2)
    totals = data["groups"][group]
    assert (totals["lag_messages"], totals["expired"], totals["members"]) == (1, 7, 0)
    assert totals["lag_ms"] >= 60_000  # the one record behind was written a minute ago
    never_read = data["groups"][f"{group}.analytics"]  # never committed: nothing expired for it
    assert (never_read["lag_messages"], never_read["expired"]) == (1, 0)
    assert (data["total_lag"], data["total_expired"]) == (2, 7)
    assert seconds < 5

    human = CliRunner().invoke(
        shadow,
        [
            "--dsn",
            endpoints.dsn(fresh_database),
            "--bootstrap",
            endpoints.bootstrap_servers,
            "--group",
            group,
            "--topic",
            topic,
            "status",
            "--app",
            "legacy_app.orderflow.app:app",
        ],
    )
    assert human.exit_code == 0, human.output
    assert f"{group}: 7 event(s) expired" in human.output
