"""One contract for every range store (in memory, Postgres): the same checksums, the same
special rows, the same rows returned in key order.

Subclasses provide ``make_store(observations, rules)``; each observation carries its digest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import timedelta

import pytest

from comparators.bisect import (
    HASH_BITS,
    Range,
    RangeStore,
    RowRules,
    fold_sum,
    row_hash,
)
from comparators.diff import Observation
from comparators.errors import SourceError
from comparators.partition import key_hash
from comparators.result import bucket_start
from tests.unit.comparators.factories import T0

NOW = T0 + timedelta(days=1)
RULES = RowRules(now=NOW, settle=timedelta(seconds=5), modes=frozenset({"dual"}))


def obs(
    i: int, *, mode: str | None = "dual", at: timedelta | None = None, **kw: bool
) -> Observation:
    at_ = T0 + (at if at is not None else timedelta(seconds=i))
    return Observation(
        f"k-{i:04d}", {}, at_, bytes([i % 256]) * 16, mode, kw.get("inconclusive", False)
    )


def contract_rows() -> list[Observation]:
    """40 plain rows and four special ones: pending, out of scope, inconclusive, and a
    duplicated key; one row without a mode."""
    rows = [obs(i) for i in range(40)]
    rows[3] = obs(3, mode=None)
    rows += [
        obs(40, at=timedelta(days=1)),
        obs(41, mode="async"),
        obs(42, inconclusive=True),
        obs(5),
    ]
    return rows


SPECIAL = {"k-0040", "k-0041", "k-0042", "k-0005"}


class RangeStoreContract:
    def make_store(self, observations: Sequence[Observation], rules: RowRules) -> RangeStore:
        raise NotImplementedError

    def test_sums_are_count_sum_and_xor_of_the_plain_rows_hashes(self) -> None:
        store = self.make_store(contract_rows(), RULES)
        store.prepare()
        shift = HASH_BITS - 3
        groups: dict[int, list[int]] = {}
        for o in contract_rows():
            if o.key not in SPECIAL:
                digest = o.digest or b""
                h = row_hash(o.key, digest, o.mode, RULES.grid(o.produced_at))
                groups.setdefault(key_hash(o.key) >> shift, []).append(h)
        expected = {b: fold_sum(hs) for b, hs in groups.items()}
        assert dict(store.sums(shift, HASH_BITS, [0])) == expected

    def test_sums_cover_only_the_given_parents(self) -> None:
        store = self.make_store(contract_rows(), RULES)
        store.prepare()
        parent = key_hash("k-0010") >> (HASH_BITS - 1)
        found = store.sums(HASH_BITS - 4, HASH_BITS - 1, [parent])
        assert found and all(b >> 3 == parent for b in found)

    def test_rows_are_the_special_rows_and_the_leaves_rows_in_key_order(self) -> None:
        store = self.make_store(contract_rows(), RULES)
        store.prepare()
        leaf = Range(HASH_BITS - 2, key_hash("k-0020") >> (HASH_BITS - 2))
        keys = [o.key for o in store.rows([leaf])]
        in_leaf = {o.key for o in contract_rows() if leaf.contains(key_hash(o.key))}
        assert keys == sorted(keys)
        assert Counter(keys) == Counter(
            o.key for o in contract_rows() if o.key in SPECIAL or o.key in in_leaf
        )

    def test_returned_plain_rows_are_counted_per_timeline_bucket(self) -> None:
        store = self.make_store(contract_rows(), RULES)
        store.prepare()
        assert sum(store.plain_timeline().values()) == 39
        assert dict(store.plain_timeline()) == {bucket_start(T0, 60): 39}
        list(store.rows([Range(0, key_hash("k-0007"))]))
        assert dict(store.returned_plain()) == {bucket_start(T0, 60): 1}

    def test_a_null_key_is_a_source_error(self) -> None:
        rows = [*contract_rows(), Observation(None, {}, T0, b"\0" * 16)]  # type: ignore[arg-type]
        store = self.make_store(rows, RULES)
        with pytest.raises(SourceError, match="NULL key"):
            store.prepare()
