from __future__ import annotations

from shadow.batch import Item, plan_offsets
from shadow.messages import RawMessage


def item(partition: int, offset: int, status: str, retry_after: float = 0.0) -> Item:
    return Item(
        RawMessage("t", partition, offset, None, b"{}"), status=status, retry_after=retry_after
    )


def test_offsets_advance_past_done_poison_and_ignored_records() -> None:
    store, blocked = plan_offsets(
        [item(0, 4, "done"), item(0, 5, "poison"), item(1, 9, "ignored")], 5.0
    )
    assert store == {("t", 0): 6, ("t", 1): 10} and blocked == {}


def test_a_deferred_record_blocks_its_partition_at_its_offset() -> None:
    items = [
        item(0, 4, "done"),
        item(0, 5, "deferred", 2.0),
        item(0, 6, "deferred"),
        item(1, 1, "done"),
    ]
    store, blocked = plan_offsets(items, 5.0)
    assert store == {("t", 0): 5, ("t", 1): 2}
    assert blocked == {("t", 0): (5, 2.0)}


def test_held_records_store_nothing_for_their_partition() -> None:
    store, blocked = plan_offsets([item(0, 7, "held"), item(1, 3, "done")], 5.0)
    assert store == {("t", 1): 4} and blocked == {}
