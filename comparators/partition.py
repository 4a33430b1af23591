"""Split the key space into hash ranges so several workers can share one comparison.

A key's bucket is the first 32 bits of its MD5 (the same in Python and in
Postgres, so SQL sources filter on the server), scaled to ``count`` ranges.
MD5 here is a spreading function, not security.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from comparators.errors import PartitionError

_SPACE = 1 << 32


def key_hash(key: str) -> int:
    """Unsigned 32-bit hash of a key (first 8 hex digits of its MD5)."""
    return int(hashlib.md5(key.encode("utf-8"), usedforsecurity=False).hexdigest()[:8], 16)


@dataclass(frozen=True, slots=True)
class Partition:
    """Worker ``index`` of ``count`` (``0 <= index < count``)."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise PartitionError(f"{self.index}/{self.count}")

    @classmethod
    def parse(cls, text: str) -> Partition:
        """``"2/8"`` -> ``Partition(2, 8)``."""
        head, sep, tail = text.partition("/")
        if not sep or not head.strip().isdigit() or not tail.strip().isdigit():
            raise PartitionError(text)
        return cls(int(head), int(tail))

    @property
    def is_whole(self) -> bool:
        return self.count == 1

    def contains(self, key: str) -> bool:
        return self.is_whole or key_hash(key) * self.count >> 32 == self.index

    def sql_predicate(self, key_expr: str) -> str:
        """A WHERE clause fragment selecting this partition's keys (``key_expr`` is trusted SQL)."""
        if self.is_whole:
            return "TRUE"
        bits = f"('x' || substr(md5(({key_expr})::text), 1, 8))::bit(32)::bigint"
        return f"(({bits} * {self.count}) >> 32) = {self.index}"

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def all_partitions(count: int) -> tuple[Partition, ...]:
    return tuple(Partition(i, count) for i in range(count))
