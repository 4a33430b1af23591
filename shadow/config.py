"""Configuration of the shadow workers: which app they run, where, and how.

Values come from a mapping or ``CUTOVER_SHADOW_*`` environment variables; the database DSN
is a :class:`~cutover_common.secrets.Secret` and never prints. The app is a
``module:attribute`` reference to a :class:`cutover.shadow.ShadowApp`
(``CUTOVER_SHADOW_APP``); ``options`` are handed to its consumer factories
(``CUTOVER_SHADOW_OPTION_<KEY>=value`` sets option ``<key>``). Nothing here knows a domain:
what runs is the app's (:mod:`shadow.loader`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from cutover.shadow import WorkerContext
from cutover_common.config import SHADOW_BOOTSTRAP, SHADOW_DSN, SHADOW_METRICS_HOST
from cutover_common.modes import Mode
from cutover_common.secrets import Secret
from shadow.dlq import dlq_topic_for
from shadow.dlq_send import DEFAULT_MAX_BYTES
from shadow.errors import ShadowConfigError
from shadow.pg import DEFAULT_SCHEMA

DEFAULT_GROUP = "cutover.shadow"
OPTION_PREFIX = "CUTOVER_SHADOW_OPTION_"
APP_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
OPTION_KEY = re.compile(r"^[a-z][a-z0-9_.-]*$")
SHADOW_MODES = (Mode.DUAL, Mode.ASYNC, Mode.EVENTS_ONLY)


@dataclass(frozen=True, slots=True)
class ShadowConfig:
    """Everything a shadow worker needs."""

    bootstrap_servers: str
    dsn: Secret
    app: str = ""
    """The app to run, ``module:attribute`` (``--app``, ``CUTOVER_SHADOW_APP``)."""
    group_id: str = DEFAULT_GROUP
    """The base consumer group; each consumer's group derives from it."""
    topics: tuple[str, ...] = ()
    """Topics to read (empty: each consumer's own, else the app's)."""
    dlq_topic: str | None = None
    schema: str = DEFAULT_SCHEMA
    mode: Mode = Mode.DUAL
    """The mode of events that carry none (each event's stamped mode wins)."""
    batch_size: int = 1000
    batch_timeout: float = 0.1  # a batch closes when full or after this: bounds the added lag
    max_attempts: int = 3
    metrics_port: int | None = None
    metrics_host: str = SHADOW_METRICS_HOST.default or "127.0.0.1"
    """The address the metrics listen on (``CUTOVER_SHADOW_METRICS_HOST``)."""
    write_behind: bool = True  # where effects are only recorded (the runtime checks per batch)
    options: Mapping[str, str] = field(default_factory=dict)
    consumers: tuple[str, ...] = ()
    """The app's consumers to run (``--consumer``); empty: all of them."""
    dlq_max_bytes: int = DEFAULT_MAX_BYTES
    """A dead letter larger than this goes with its value cut, its whole original kept as a
    claim check in the store (``CUTOVER_SHADOW_DLQ_MAX_BYTES``; keep it below the producer's
    ``message.max.bytes``, 1,000,000, and the topic's ``max.message.bytes``)."""

    def __post_init__(self) -> None:
        if self.mode not in SHADOW_MODES:
            raise ShadowConfigError(
                "mode", f"the shadow runs in dual, async or events-only, not {self.mode}"
            )
        if self.app and not APP_REF.match(self.app):
            raise ShadowConfigError(
                "app", f"{self.app!r} is not module:attribute (e.g. myteam.shadow:app)"
            )
        if self.dlq_max_bytes < 1024:
            raise ShadowConfigError(
                "dlq_max_bytes", f"{self.dlq_max_bytes} is below 1024 bytes (room for headers)"
            )
        for key in self.options:
            if not OPTION_KEY.match(key):
                raise ShadowConfigError(
                    f"options.{key}", "an option key is lower-case letters, digits, '_.-'"
                )

    def dead_letter_topic(self, group: str) -> str:
        """Each consumer group dead-letters into its own topic (``<group>.dlq``), so a poison
        message seen by two groups is counted once per group."""
        return self.dlq_topic or dlq_topic_for(group)

    def context(self) -> WorkerContext:
        """What the app's consumer factories get; ``--serial`` reaches them as the option
        ``write_behind=false`` (unless the options say otherwise)."""
        options = dict(self.options)
        if not self.write_behind:
            options.setdefault("write_behind", "false")
        return WorkerContext(self.dsn.reveal(), self.schema, self.mode.value, options)

    def with_overrides(self, **changes: object) -> ShadowConfig:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **given: object) -> ShadowConfig:
        """Build from ``CUTOVER_SHADOW_*`` variables; keyword arguments win (``options``:
        key by key, over the variables' options). The bootstrap servers default to
        :data:`~cutover_common.config.SHADOW_BOOTSTRAP`'s; the DSN has no default."""
        e = dict(os.environ if env is None else env)
        values: dict[str, object] = {}
        simple = {
            "CUTOVER_SHADOW_GROUP": "group_id",
            "CUTOVER_SHADOW_APP": "app",
            "CUTOVER_SHADOW_SCHEMA": "schema",
            SHADOW_METRICS_HOST.name: "metrics_host",
        }
        values.update({name: e[var] for var, name in simple.items() if e.get(var)})
        values["bootstrap_servers"] = SHADOW_BOOTSTRAP.get(e)
        if dsn := SHADOW_DSN.get(e):
            values["dsn"] = Secret(dsn)
        if "CUTOVER_SHADOW_TOPICS" in e:
            values["topics"] = tuple(t for t in e["CUTOVER_SHADOW_TOPICS"].split(",") if t)
        if e.get("CUTOVER_SHADOW_DLQ_MAX_BYTES"):
            values["dlq_max_bytes"] = _int(e["CUTOVER_SHADOW_DLQ_MAX_BYTES"], "dlq_max_bytes")
        if "CUTOVER_SHADOW_MODE" in e:
            values["mode"] = Mode(e["CUTOVER_SHADOW_MODE"])
        options = env_options(e)
        given_options = given.pop("options", None)
        if isinstance(given_options, Mapping):
            options.update(given_options)
        values["options"] = options
        values.update({k: v for k, v in given.items() if v is not None})
        if "dsn" not in values:
            raise ShadowConfigError(
                "dsn",
                f"the shadow store's database is not given: pass --dsn or set {SHADOW_DSN.name}",
            )
        return cls(**values)  # type: ignore[arg-type]


def _int(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ShadowConfigError(name, f"{text!r} is not a whole number") from None


def env_options(env: Mapping[str, str]) -> dict[str, str]:
    """``CUTOVER_SHADOW_OPTION_<KEY>=value`` variables as options (``<key>`` lower-cased)."""
    return {
        name[len(OPTION_PREFIX) :].lower(): value
        for name, value in env.items()
        if name.startswith(OPTION_PREFIX) and len(name) > len(OPTION_PREFIX)
    }


def parse_options(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``key=value`` strings (``--option``) as a mapping; a pair without ``=`` is an error."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ShadowConfigError("option", f"{pair!r} is not key=value")
        out[key.strip()] = value
    return out
