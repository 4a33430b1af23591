"""Continuous comparison with a watermark (``cutover compare watch``).

Each step judges the keys whose settle window closed since the previous step:
it reads rows produced after ``watermark - lookback`` (the lookback lets a
candidate that arrived a little before its control still pair up), judges
keys whose time is in ``(watermark, now - settle]`` and adds them to the
cumulative result; keys not yet settled are reported as pending and judged by
a later step. The new watermark is ``now - settle``, persisted with the
cumulative result in a small file or table, so a restarted watcher continues.

A key judged ``missing`` is remembered (with its control's time) for ``late_limit``:
later steps read back to the oldest remembered control and judge those keys again.
When the candidate has arrived by then, the earlier ``missing`` is taken back
(count, timeline, sample) and the key is judged anew (``late``, or ``divergent``), so
one key is never counted both missing and extra; still missing, it is not counted
again. After ``late_limit`` it is forgotten and stays missing.

With the pipeline's position, a key without candidate whose settle window has closed but
which the pipeline has not reached yet (behind its watermark) is ``pending``: it is
remembered the same way (``waiting``) and judged — for the first time — by the first step
that finds the pipeline past it. Keys written in a mode outside ``modes`` are counted
``out_of_scope`` once.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import psycopg
import psycopg.errors

from comparators.diff import Scope, observe, summarise
from comparators.errors import SourceError, WatermarksNotInitialised
from comparators.invariants import Invariant
from comparators.partition import Partition
from comparators.position import PipelinePosition
from comparators.result import Category, ComparisonResult, KeyResult, merge, retract_missing
from comparators.rules import CompareOptions
from comparators.sources import (
    OutcomeSource,
    ReadWindow,
    libpq_url,
    pushdown_window,
    translate_errors,
)


@dataclass(frozen=True, slots=True)
class WatchState:
    """What a watcher remembers: the watermark and everything judged so far."""

    watermark: datetime | None = None
    result: ComparisonResult = field(default_factory=ComparisonResult)
    steps: int = 0
    missing: dict[str, datetime] = field(default_factory=dict)
    """Keys judged missing that a late candidate may still settle, with their control's time."""
    waiting: dict[str, datetime] = field(default_factory=dict)
    """Keys past their settle window that the pipeline had not reached yet (not judged)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "watermark": self.watermark.isoformat() if self.watermark else None,
            "result": self.result.to_dict(),
            "steps": self.steps,
            "missing": {k: at.isoformat() for k, at in self.missing.items()},
            "waiting": {k: at.isoformat() for k, at in self.waiting.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WatchState:
        mark = data.get("watermark")
        return cls(
            watermark=datetime.fromisoformat(mark) if mark else None,
            result=ComparisonResult.from_dict(data.get("result", {})),
            steps=int(data.get("steps", 0)),
            missing={k: datetime.fromisoformat(v) for k, v in data.get("missing", {}).items()},
            waiting={k: datetime.fromisoformat(v) for k, v in data.get("waiting", {}).items()},
        )


class WatermarkStore(Protocol):
    """A port: load and save the state of one named watcher."""

    def load(self, name: str) -> WatchState: ...

    def save(self, name: str, state: WatchState) -> None: ...


class InMemoryWatermarkStore:
    """Watch states in a dict (tests)."""

    def __init__(self) -> None:
        self.states: dict[str, WatchState] = {}

    def load(self, name: str) -> WatchState:
        return self.states.get(name, WatchState())

    def save(self, name: str, state: WatchState) -> None:
        self.states[name] = state


class FileWatermarkStore:
    """One JSON file per watcher in ``directory`` (written atomically)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, name: str) -> Path:
        return self.directory / f"{name}.watch.json"

    def load(self, name: str) -> WatchState:
        path = self._path(name)
        return WatchState.from_dict(json.loads(path.read_text())) if path.exists() else WatchState()

    def save(self, name: str, state: WatchState) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(state.to_dict(), fh, default=str)
        os.replace(tmp, self._path(name))


class PostgresWatermarkStore:
    """Watch states in cutover's table ``<schema>.compare_watermarks`` (created by ``cutover
    init``, never here: a database without it raises :class:`WatermarksNotInitialised`)."""

    def __init__(self, conninfo: str, schema: str = "cutover") -> None:
        self._conninfo = libpq_url(conninfo)
        self._table = f"{schema}.compare_watermarks"
        self._schema = schema

    @contextmanager
    def _connect(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with translate_errors("watermarks"), psycopg.connect(self._conninfo) as conn:
                yield conn
        except SourceError as exc:
            if isinstance(
                exc.__cause__, psycopg.errors.UndefinedTable | psycopg.errors.InvalidSchemaName
            ):
                raise WatermarksNotInitialised(self._schema) from None
            raise

    def load(self, name: str) -> WatchState:
        with self._connect() as conn:
            row = conn.execute(
                f"SELECT state FROM {self._table} WHERE name = %s", (name,)
            ).fetchone()
        return WatchState.from_dict(row[0]) if row else WatchState()

    def save(self, name: str, state: WatchState) -> None:
        payload = json.dumps(state.to_dict(), default=str)
        with self._connect() as conn:
            conn.execute(
                f"INSERT INTO {self._table} (name, watermark, state) "
                "VALUES (%s, %s, %s::jsonb) ON CONFLICT (name) DO UPDATE SET "
                "watermark = EXCLUDED.watermark, state = EXCLUDED.state, updated_at = now()",
                (name, state.watermark, payload),
            )


@dataclass(frozen=True, slots=True)
class WatchStep:
    """One step: the increment judged now, the cumulative result and the pending count."""

    state: WatchState
    increment: ComparisonResult
    pending: int


LATE_LIMIT = timedelta(hours=1)
MAX_REMEMBERED_MISSING = 10_000


def watch_step(
    control: OutcomeSource,
    candidate: OutcomeSource,
    options: CompareOptions,
    state: WatchState,
    now: datetime,
    *,
    invariants: Sequence[Invariant] = (),
    partition: Partition | None = None,
    lookback: timedelta | None = None,
    late_limit: timedelta = LATE_LIMIT,
    modes: frozenset[str] | None = None,
    position: PipelinePosition | None = None,
) -> WatchStep:
    """Judge the keys settled since ``state.watermark`` (and the remembered ones); return the
    advanced state. ``modes`` and ``position`` as in :class:`~comparators.diff.Scope`."""
    part = partition or Partition()
    slack = lookback if lookback is not None else options.settle
    remembered = {k: at for k, at in state.missing.items() if at > now - late_limit}
    behind = {k: at for k, at in state.waiting.items() if at > now - late_limit}
    since = state.watermark - slack if state.watermark else None
    if since is not None and (remembered or behind):
        since = min(since, min((*remembered.values(), *behind.values())) - slack)
    window = pushdown_window(
        control,
        candidate,
        options.ignore,
        bool(invariants),
        ReadWindow(since=since, partition=part),
    )
    scope = Scope(
        now=now,
        since=state.watermark,
        partition=part,
        revisit=frozenset(remembered) | frozenset(behind),
        modes=modes,
        position=position,
    )
    taken_back: list[KeyResult] = []
    missing = dict(remembered)
    waiting = dict(behind)

    def judged() -> Iterator[KeyResult]:
        for res in observe(
            control.observations(window),
            candidate.observations(window),
            options,
            scope,
            invariants,
        ):
            if _behind_watermark(res, now, options.settle):
                assert res.control_at is not None
                waiting[res.key] = res.control_at
                yield res  # pending: not in the increment, judged by a later step
                continue
            if res.key in behind:
                del waiting[res.key]
            if res.key not in remembered:
                if res.category is Category.MISSING and res.control_at is not None:
                    missing[res.key] = res.control_at
                yield res
            elif res.category is not Category.MISSING:  # still missing: counted once already
                taken_back.append(res)
                del missing[res.key]
                # the control's invariants were counted when the key was judged missing
                yield replace(
                    res, violations=tuple(v for v in res.violations if v.side != "control")
                )

    result = summarise(judged(), options)
    increment = result.without_pending()
    earlier = retract_missing(state.result, [(r.key, remembered[r.key]) for r in taken_back])
    newest = sorted(missing.items(), key=lambda kv: kv[1])[-MAX_REMEMBERED_MISSING:]
    still = sorted(waiting.items(), key=lambda kv: kv[1])[-MAX_REMEMBERED_MISSING:]
    new_state = WatchState(
        watermark=now - options.settle,
        result=merge([earlier, increment]),
        steps=state.steps + 1,
        missing=dict(newest),
        waiting=dict(still),
    )
    return WatchStep(new_state, increment, result.pending)


def _behind_watermark(res: KeyResult, now: datetime, settle: timedelta) -> bool:
    """Pending although its settle window closed: the pipeline has not reached it."""
    return (
        res.category is Category.PENDING
        and res.control_at is not None
        and res.control_at + settle <= now
    )
