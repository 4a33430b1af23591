"""Which Kafka partition holds a key's record (pure): the Java client's default partitioner.

Kafka Connect produces the outbox router's records with the Java producer, whose default
partitioner puts a keyed record in ``toPositive(murmur2(key bytes)) % partitions``
(``org.apache.kafka.clients.producer.internals.BuiltInPartitioner.partitionForKey``).
The comparators use it to tell which partition a key without candidate belongs to, and so
whether Kafka may have deleted its record unread (see :mod:`comparators.position`).

The key bytes depend on the connector's key converter (:mod:`cdc.debezium`): an outbox-only
connector uses ``StringConverter`` (the aggregate id's UTF-8 bytes, :data:`STRING_KEYS`); one
that also captures tables uses a schemaless ``JsonConverter`` (the id as a JSON string,
quotes included, :data:`JSON_KEYS`).
"""

from __future__ import annotations

import json
from typing import Literal

KeyFormat = Literal["string", "json"]
STRING_KEYS: KeyFormat = "string"
JSON_KEYS: KeyFormat = "json"

_MASK = 0xFFFFFFFF
_SEED = 0x9747B28C
_M = 0x5BD1E995


def murmur2(data: bytes) -> int:
    """Kafka's ``Utils.murmur2`` (32-bit, seed ``0x9747b28c``) as a signed 32-bit int."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    tail = length & ~3
    for i in range(0, tail, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    rest = length & 3
    if rest == 3:
        h ^= data[tail + 2] << 16
    if rest >= 2:
        h ^= data[tail + 1] << 8
    if rest >= 1:
        h ^= data[tail]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def key_bytes(key: str, key_format: KeyFormat = STRING_KEYS) -> bytes:
    """The bytes the connector's key converter writes for ``key``."""
    if key_format == JSON_KEYS:
        return json.dumps(key, separators=(",", ":")).encode("utf-8")
    return key.encode("utf-8")


def partition_for(key: str, partitions: int, key_format: KeyFormat = STRING_KEYS) -> int:
    """The partition the Java producer's default partitioner gives ``key``."""
    if partitions < 1:
        raise ValueError("a topic has at least one partition")
    return (murmur2(key_bytes(key, key_format)) & 0x7FFFFFFF) % partitions
