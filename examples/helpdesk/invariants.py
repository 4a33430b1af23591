"""The helpdesk's business invariants, named in its plan (``module:function``).

Each sees every outcome record one side produced for one ticket and returns ``None`` when it
holds, or a short reason when it does not (the comparators' invariant signature). ``jsonb``
columns may arrive as JSON text: they are parsed here.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

Records = Sequence[Mapping[str, Any]]
STATUSES = frozenset({"open", "assigned", "resolved"})


def _list(value: Any) -> list[Any]:
    if isinstance(value, str | bytes):
        value = json.loads(value)
    return list(value) if isinstance(value, list | tuple) else []


def one_notice_per_change(records: Records) -> str | None:
    """A ticket's requester and assignee are told of each change once, never twice."""
    seen: Counter[tuple[str, str]] = Counter()
    for record in records:
        for notice in _list(record.get("notices")):
            if isinstance(notice, Mapping):
                seen[(str(notice.get("template")), str(notice.get("recipient")))] += 1
    twice = sorted(f"{t} to {r}" for (t, r), n in seen.items() if n > 1)
    return f"sent more than once: {', '.join(twice)}" if twice else None


def document_matches_status(records: Records) -> str | None:
    """The indexed document has a known status, and an assignee once assigned."""
    if len(records) > 1:
        return f"{len(records)} documents for one ticket"
    for record in records:
        status = record.get("status")
        if status not in STATUSES:
            return f"unknown status {status!r}"
        if status == "assigned" and not record.get("assignee"):
            return "assigned without an assignee"
    return None
