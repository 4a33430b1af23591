"""Which config changes make a running Debezium Postgres connector publish its outbox again.

Debezium keys a connector's offsets by its ``topic.prefix``, and streams from one
replication slot through one publication. Changing any of the three on a connector that
already runs starts it without its position: a snapshotting mode reads the captured tables
again, and every outbox row still in the table goes out once more as new messages (29
outbox rows, 58 messages). :func:`resnapshot_reasons` is the rule, pure: the live config and
the desired one in, one reason per such change out. ``cutover connectors apply`` and
``cutover advance`` refuse a change with reasons unless ``--allow-resnapshot``.
"""

from __future__ import annotations

from collections.abc import Mapping

RESNAPSHOT_KEYS: dict[str, str] = {
    "topic.prefix": "republishes every outbox row as new messages (the connector's offsets "
    "are kept under its topic.prefix)",
    "slot.name": "starts a new replication slot and republishes every outbox row as new messages",
    "publication.name": "makes Debezium snapshot the outbox again and republish every row "
    "as new messages",
}
"""The config keys whose change on a running connector republishes the outbox, and what
that would cause."""


def resnapshot_reasons(live: Mapping[str, object], desired: Mapping[str, object]) -> list[str]:
    """One line per key of :data:`RESNAPSHOT_KEYS` the ``desired`` config changes from the
    ``live`` one (a key absent on either side is no change: nothing runs with it)."""
    reasons = []
    for key, effect in RESNAPSHOT_KEYS.items():
        old, new = live.get(key), desired.get(key)
        if old is None or new is None or str(old) == str(new):
            continue
        reasons.append(f"changing {key} from {old} to {new} {effect}")
    return reasons
