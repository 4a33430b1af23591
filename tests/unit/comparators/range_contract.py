"""One contract for every range store (in memory, Postgres): the same checksums, the same
special rows, the same rows returned in key order.

Subclasses provide ``make_store(observations, rules)``; each observation carries its digest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

import pytest

from comparators.bisect import (
    HASH_BITS,
    Range,
    RangeStore,
    RowRules,
)
from comparators.diff import Observation
from comparators.errors import SourceError
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
    """40 plain rows, one of them twice (k-0005), one without a mode; three special rows:
    pending, out of scope, inconclusive."""
    rows = [obs(i) for i in range(40)]
    rows[3] = obs(3, mode=None)
    rows += [
        obs(40, at=timedelta(days=1)),
        obs(41, mode="async"),
        obs(42, inconclusive=True),
        obs(5),
    ]
    return rows


SPECIAL = {"k-0040", "k-0041", "k-0042"}


class RangeStoreContract:
    def make_store(self, observations: Sequence[Observation], rules: RowRules) -> RangeStore:
        raise NotImplementedError

    def test_the_first_level_covers_every_plain_row_once(self) -> None:
        store = self.make_store(contract_rows(), RULES)
        store.prepare()
        found = store.sums(HASH_BITS - 3, HASH_BITS, [0])
        assert set(found) <= set(range(8))
        assert sum(s.count for s in found.values()) == 41
        assert sum(s.duplicates for s in found.values()) == 1  # k-0005

    def test_equal_rows_give_equal_sums_and_one_changed_digest_one_differing_range(
        self,
    ) -> None:
        rows = contract_rows()
        changed = [replace(o, digest=b"\xff" * 16) if o.key == "k-0020" else o for o in rows]
        a, b, c = (self.make_store(r, RULES) for r in (rows, list(reversed(rows)), changed))
        for store in (a, b, c):
            store.prepare()
        shift = HASH_BITS - 4
        assert a.sums(shift, HASH_BITS, [0]) == b.sums(shift, HASH_BITS, [0])
        ours, theirs = a.sums(shift, HASH_BITS, [0]), c.sums(shift, HASH_BITS, [0])
        assert len([i for i in ours if ours[i] != theirs.get(i)]) == 1

    def test_sums_cover_only_the_given_parents(self) -> None:
        store = self.make_store(contract_rows(), RULES)
        store.prepare()
        parent = min(store.sums(HASH_BITS - 1, HASH_BITS, [0]))
        found = store.sums(HASH_BITS - 4, HASH_BITS - 1, [parent])
        assert found and all(b >> 3 == parent for b in found)

    def test_rows_are_the_special_rows_and_the_leaves_rows_in_key_order(self) -> None:
        store = self.make_store(contract_rows(), RULES)
        store.prepare()
        assert {o.key for o in store.rows([])} == SPECIAL
        keys = [o.key for o in store.rows([Range(HASH_BITS, 0)])]
        assert keys == sorted(keys)
        assert Counter(keys) == Counter(o.key for o in contract_rows())

    def test_returned_plain_rows_are_counted_per_timeline_bucket(self) -> None:
        store = self.make_store(contract_rows(), RULES)
        store.prepare()
        store.sums(HASH_BITS - 2, HASH_BITS, [0])
        assert dict(store.plain_timeline()) == {bucket_start(T0, 60): 41}
        list(store.rows([Range(HASH_BITS, 0)]))
        assert dict(store.returned_plain()) == {bucket_start(T0, 60): 41}

    def test_a_null_key_is_a_source_error(self) -> None:
        rows = [*contract_rows(), Observation(None, {}, T0, b"\0" * 16)]  # type: ignore[arg-type]
        store = self.make_store(rows, RULES)
        with pytest.raises(SourceError, match="NULL key"):
            store.prepare()
            store.sums(HASH_BITS - 2, HASH_BITS, [0])
