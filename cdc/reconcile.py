"""Diff desired connectors against the live cluster, and apply the difference.

Safe defaults: dangerous configuration is refused before anything is sent
(:mod:`cdc.safety`), every config is validated by the worker first (per-field
errors stop the apply), connectors the file does not mention are reported as
``unmanaged`` and never deleted, and ``dry_run`` changes nothing.
Secret values never appear in a diff: a changed secret shows as ``*** (changed)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from cdc import safety
from cdc.client import ConnectClient, wire_config
from cdc.desired import ConfigValue, DesiredConnector
from cdc.errors import InvalidConnectorConfig, ResnapshotRefused
from cdc.models import FAILED, PAUSED, RUNNING, STOPPED
from cdc.resnapshot import resnapshot_reasons
from cdc.versions import supports
from cutover_common.secrets import MASK, Secret, is_sensitive_key

log = structlog.get_logger(__name__)

IGNORED_KEYS = frozenset({"name"})


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """One key that differs; values are display-safe (secrets masked)."""

    key: str
    old: str | None
    new: str | None

    def line(self) -> str:
        if self.old is None:
            return f"  + {self.key}: {self.new!r}"
        if self.new is None:
            return f"  - {self.key}: {self.old!r}"
        return f"  ~ {self.key}: {self.old!r} -> {self.new!r}"


@dataclass(frozen=True, slots=True)
class ConnectorDiff:
    """What it takes to bring one connector to its desired shape."""

    name: str
    action: str  # create | update | unchanged | unmanaged
    changes: tuple[ConfigChange, ...] = ()
    state_from: str | None = None
    state_to: str | None = None

    @property
    def state_change(self) -> bool:
        return self.state_to is not None and self.state_from != self.state_to

    @property
    def drift(self) -> bool:
        return self.action in ("create", "update") or self.state_change

    def render(self) -> str:
        sign = {"create": "+", "update": "~", "unchanged": "=", "unmanaged": "?"}[self.action]
        head = f"{sign} {self.name} ({self.action})"
        if self.state_change:
            head += f" state {self.state_from or '-'} -> {self.state_to}"
        return "\n".join([head, *(c.line() for c in self.changes)])

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "action": self.action,
            "state_from": self.state_from,
            "state_to": self.state_to,
            "changes": [{"key": c.key, "old": c.old, "new": c.new} for c in self.changes],
        }


def _display(key: str, value: str | None, *, secret: bool) -> str | None:
    if value is None:
        return None
    return MASK if secret or is_sensitive_key(key) else value


def config_changes(
    desired: Mapping[str, ConfigValue], live: Mapping[str, str]
) -> list[ConfigChange]:
    """Key-by-key differences, display-safe."""
    want = wire_config(desired)
    secret_keys = {k for k, v in desired.items() if isinstance(v, Secret)}
    changes = []
    for key in sorted((set(want) | set(live)) - IGNORED_KEYS):
        old, new = live.get(key), want.get(key)
        if old == new:
            continue
        secret = key in secret_keys
        shown_new = _display(key, new, secret=secret)
        if old is not None and new is not None and shown_new == MASK:
            shown_new = f"{MASK} (changed)"
        changes.append(ConfigChange(key, _display(key, old, secret=secret), shown_new))
    return changes


def diff(client: ConnectClient, desired: Sequence[DesiredConnector]) -> list[ConnectorDiff]:
    """Compare every desired connector (and list unmanaged ones) with the live cluster."""
    live = {row.name: row for row in client.list_connectors_expanded()}
    out = []
    for want in desired:
        row = live.get(want.name)
        if row is None or row.info is None:
            out.append(ConnectorDiff(want.name, "create", (), None, want.state))
            continue
        changes = tuple(config_changes(want.config, row.info.config))
        state = row.status.state if row.status else None
        out.append(
            ConnectorDiff(
                want.name, "update" if changes else "unchanged", changes, state, want.state
            )
        )
    managed = {d.name for d in desired}
    out += [ConnectorDiff(name, "unmanaged") for name in sorted(set(live) - managed)]
    return out


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What ``apply`` did (or, with ``dry_run``, would do)."""

    diffs: tuple[ConnectorDiff, ...]
    performed: tuple[str, ...] = field(default=())
    dry_run: bool = False

    @property
    def drift(self) -> bool:
        return any(d.drift for d in self.diffs)


def check_all(desired: Iterable[DesiredConnector]) -> None:
    """Refuse dangerous configuration before touching the cluster."""
    for want in desired:
        safety.check(want.name, want.config, want.allow)


def validate_all(client: ConnectClient, desired: Iterable[DesiredConnector]) -> None:
    """Ask the worker to validate every config; per-field errors raise InvalidConnectorConfig."""
    for want in desired:
        result = client.validate(want.config, name=want.name)
        if not result.ok:
            raise InvalidConnectorConfig(want.name, result.errors)


def apply(
    client: ConnectClient,
    desired: Sequence[DesiredConnector],
    *,
    dry_run: bool = False,
    validate: bool = True,
    allow_resnapshot: bool = False,
) -> ApplyResult:
    """Create/update connectors and move them to their desired state.

    An update that would make a running connector publish its outbox again (a new
    ``topic.prefix``, slot or publication: :mod:`cdc.resnapshot`) raises
    :class:`ResnapshotRefused` before anything is sent, unless ``allow_resnapshot``.
    """
    check_all(desired)
    diffs = diff(client, desired)
    if not allow_resnapshot:
        refuse_resnapshots(diffs)
    if dry_run:
        return ApplyResult(tuple(diffs), (), dry_run=True)
    by_name = {d.name: d for d in desired}
    todo = [d for d in diffs if d.drift]
    if validate:
        validate_all(client, [by_name[d.name] for d in todo])
    performed: list[str] = []
    for d in todo:
        performed += _apply_one(client, by_name[d.name], d)
    return ApplyResult(tuple(diffs), tuple(performed))


def refuse_resnapshots(diffs: Iterable[ConnectorDiff]) -> None:
    """Raise :class:`ResnapshotRefused` for the first update that would republish."""
    for d in diffs:
        if d.action != "update":
            continue
        live = {c.key: c.old for c in d.changes if c.old is not None}
        want = {c.key: c.new for c in d.changes if c.new is not None}
        reasons = resnapshot_reasons(live, want)
        if reasons:
            raise ResnapshotRefused(d.name, reasons)


def _apply_one(client: ConnectClient, want: DesiredConnector, d: ConnectorDiff) -> list[str]:
    done: list[str] = []
    if d.action == "create":
        if want.state != RUNNING and supports(
            "create with initial_state (KIP-980)", client.worker_version
        ):
            client.create_connector(want.name, want.config, initial_state=want.state)
            log.info("cdc.apply", connector=want.name, action="create", state=want.state)
            return [f"create {want.name} ({want.state})"]
        client.create_connector(want.name, want.config)
        done.append(f"create {want.name}")
        current: str | None = RUNNING
    else:
        current = d.state_from
        if d.action == "update":
            client.put_config(want.name, want.config)
            done.append(f"update {want.name} ({len(d.changes)} keys)")
    if current != want.state:
        _move(client, want.name, want.state, current)
        done.append(f"{want.state.lower()} {want.name}")
    log.info("cdc.apply", connector=want.name, performed=done)
    return done


def _move(client: ConnectClient, name: str, state: str, current: str | None) -> None:
    if state == RUNNING and current == FAILED:
        client.restart(name, include_tasks=True, only_failed=True)
        return
    actions = {RUNNING: client.resume, PAUSED: client.pause, STOPPED: client.stop}
    actions[state](name)


def exactly_once_available(
    client: ConnectClient, config: Mapping[str, ConfigValue], name: str
) -> bool:
    """Whether the worker accepts ``exactly.once.support=required`` for this config.

    The worker rejects it (a field error) unless ``exactly.once.source.support=enabled``.
    """
    result = client.validate({**config, "exactly.once.support": "required"}, name=name)
    return "exactly.once.support" not in result.errors
