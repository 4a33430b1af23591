"""Aborting hanging Kafka transactions before Connect starts (the tool's output parsed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rehearsal.stack import kafka
from rehearsal.stack.errors import StackError
from rehearsal.stack.jars import JarLayout
from rehearsal.stack.topology import load_topology

FOUND = """\
Topic\tPartition\tProducerId\tProducerEpoch\tCoordinatorEpoch\tStartOffset\tLastTimestamp\tDuration(min)
_connect_offsets\t16\t8156\t182\t16\t596\t1795714742637\t12
rh1.order\t3\t8156\t182\t16\t84\t1795714742444\t12
"""


def test_each_hanging_transaction_found_is_aborted_at_its_start_offset(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[tuple[str, ...]] = []

    def tool(_topology: object, _jars: object, *args: str) -> str:
        calls.append(args)
        return FOUND if args[0] == "find-hanging" else ""

    monkeypatch.setattr(kafka, "_transactions_tool", tool)
    topology = load_topology()
    aborted = kafka.abort_hanging_transactions(topology, JarLayout(tmp_path, tmp_path))
    assert aborted == ["_connect_offsets-16@596", "rh1.order-3@84"]
    assert calls[0][:3] == ("find-hanging", "--broker-id", str(topology.kafka.node_id))
    assert calls[1:] == [
        ("abort", "--topic", "_connect_offsets", "--partition", "16", "--start-offset", "596"),
        ("abort", "--topic", "rh1.order", "--partition", "3", "--start-offset", "84"),
    ]


def test_nothing_hanging_aborts_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    header = FOUND.splitlines()[0] + "\n"
    monkeypatch.setattr(kafka, "_transactions_tool", lambda *_a: header)
    assert kafka.abort_hanging_transactions(load_topology(), JarLayout(tmp_path, tmp_path)) == []


@pytest.mark.parametrize(
    ("probe", "tool_runs"),
    [([], False), (["_connect_offsets-16"], True), (StackError("no answer"), True)],
)
def test_the_tool_runs_only_when_the_probe_sees_an_open_transaction_or_cannot_tell(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, probe: list[str] | Exception, tool_runs: bool
) -> None:
    calls: list[tuple[str, ...]] = []

    def open_transactions(_topology: object) -> list[str]:
        if isinstance(probe, Exception):
            raise probe
        return probe

    def tool(_topology: object, _jars: object, *args: str) -> str:
        calls.append(args)
        return FOUND if args[0] == "find-hanging" else ""

    monkeypatch.setattr(kafka, "partitions_with_open_transactions", open_transactions)
    monkeypatch.setattr(kafka, "_transactions_tool", tool)
    aborted = kafka.repair_hanging_transactions(load_topology(), JarLayout(tmp_path, tmp_path))
    assert bool(calls) is tool_runs
    assert aborted == (["_connect_offsets-16@596", "rh1.order-3@84"] if tool_runs else [])
