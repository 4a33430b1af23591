"""Helpers of the outbox purge and connector-history tests: a plan for a fresh database, the
phase-2 connector built from it (``phases.adapters.CdcConnectorAdmin``), topic sizes."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from cdc.client import ConnectClient
from cutover_common.topics import KafkaTopicAdmin, TopicSpecValue
from phases.adapters import CdcConnectorAdmin
from phases.plan import Plan, load_plan
from phases.plan_topics import plan_topics
from rehearsal.stack.endpoints import Endpoints
from tests.unit.phases.conftest import SAMPLE

URL_ENV = "OUTBOX_IT_DATABASE_URL"


def write_plan(
    path: Path, endpoints: Endpoints, unique: str, outbox: dict[str, Any] | None = None
) -> Plan:
    """The sample plan pointed at the stack, with its own connector, slot and topic prefix."""
    data: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    data["system"]["database"]["url_env"] = URL_ENV
    data["system"]["kafka"] = {
        "bootstrap_servers": endpoints.bootstrap_servers,
        "topic_prefix": f"ob{unique}",
    }
    data["system"]["connect"] = {
        "url": endpoints.connect_url,
        "connector_name": f"ob-it-{unique}",
        "slot_name": f"ob_it_{unique}",
        "heartbeat_interval_ms": 500,
    }
    if outbox is not None:
        data["outbox"] = outbox
    path.write_text(yaml.safe_dump(data))
    return load_plan(path)


@contextmanager
def phase_2_connector(plan: Plan, url: str) -> Iterator[CdcConnectorAdmin]:
    """The connector phase 2 applies for ``plan`` (running, slot active), after the topics
    phase 2 creates and the tests' ``article`` topic (no topic is created on use); deleted
    after."""
    article = TopicSpecValue(f"{plan.system.kafka.topic_prefix}.article", 1)
    topics = KafkaTopicAdmin({"bootstrap.servers": plan.system.kafka.bootstrap_servers})
    topics.ensure_topics([*(t.spec for t in plan_topics(plan)), article])
    admin = CdcConnectorAdmin(plan, {}, url)
    admin.apply_outbox_connector()
    try:
        yield admin
    finally:
        client = ConnectClient.from_url(plan.system.connect.url)
        if admin.name in client.list_connectors():
            client.delete_connector(admin.name)


def topic_size(bootstrap: str, topic: str, timeout_s: float = 20.0) -> int:
    """The records in ``topic``, read from the start to its high watermarks (counted, not
    taken from offsets: a transactional producer's commit markers take offsets too); -1
    while the topic is not created yet or its leader not elected."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"outbox-it-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    try:
        meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or meta.error is not None:
            return -1
        parts = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.partitions]
        ends = {p.partition: consumer.get_watermark_offsets(p, timeout=10)[1] for p in parts}
        consumer.assign(parts)
        count, deadline = 0, time.monotonic() + timeout_s
        while time.monotonic() < deadline and not _at_end(consumer, topic, ends):
            count += sum(1 for m in consumer.consume(500, timeout=0.2) if not m.error())
        return count
    except KafkaException:
        return -1
    finally:
        consumer.close()


def _at_end(consumer: Consumer, topic: str, ends: dict[int, int]) -> bool:
    """Each partition read up to its high watermark (as it was when the count began)."""
    positions = consumer.position([TopicPartition(topic, p) for p in ends])
    return all(ends[tp.partition] == 0 or tp.offset >= ends[tp.partition] for tp in positions)


def wait_until(what: str, check: Callable[[], bool], timeout_s: float = 30.0) -> float:
    """Poll ``check`` until true; the seconds it took (fails the test after ``timeout_s``)."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout_s:
            pytest.fail(f"{what} not within {timeout_s:.0f} s")
        time.sleep(0.1)
    return time.monotonic() - started
