"""The open-transaction probe that decides whether ``start_connect`` runs the JVM
transactions tool: a real transactional producer on the real broker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from rehearsal.stack.endpoints import Endpoints
from rehearsal.stack.kafka import partitions_with_open_transactions
from rehearsal.stack.topology import Topology


@pytest.fixture
def topic(endpoints: Endpoints, unique: str) -> Iterator[str]:
    name = f"t{unique}.txn"
    admin = AdminClient({"bootstrap.servers": endpoints.bootstrap_servers})
    admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])[name].result()
    yield name
    admin.delete_topics([name], operation_timeout=30)[name].result()


def test_a_partition_is_reported_while_a_transaction_on_it_is_open(
    endpoints: Endpoints, topology: Topology, topic: str, unique: str
) -> None:
    producer = Producer(
        {"bootstrap.servers": endpoints.bootstrap_servers, "transactional.id": f"tx-{unique}"}
    )
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(topic, b"v", partition=1)
    producer.flush(30)

    assert f"{topic}-1" in partitions_with_open_transactions(topology)
    assert f"{topic}-0" not in partitions_with_open_transactions(topology)

    producer.commit_transaction(30)
    assert not [p for p in partitions_with_open_transactions(topology) if p.startswith(topic)]
