"""A team's shadow app from its ``module:attribute`` reference, and the consumers it runs.

An app runs one consumer for its handlers (named after the app, in the base group) and one
per advanced consumer (:meth:`cutover.shadow.ShadowApp.consumer`, in ``<group>.<suffix>``).
:func:`consumers_of` lists them without building anything (the supervisor connects to
nothing); :func:`build_consumer` builds one, in the worker process that runs it.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from cutover.shadow import Consumer, ShadowApp, WorkerContext
from shadow.config import APP_REF, ShadowConfig
from shadow.errors import ShadowConfigError


@dataclass(frozen=True, slots=True)
class AppConsumer:
    """One consumer of an app, as the runner places it: its group and topics."""

    name: str
    group: str
    topics: tuple[str, ...]
    handlers: bool
    """True for the consumer of the app's handlers, False for an advanced consumer."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def load_app(ref: str) -> ShadowApp:
    """Import ``module:attribute`` (the working directory is importable, as for ``python -m``)
    and check it is a :class:`ShadowApp`; any failure is one :class:`ShadowConfigError` line
    naming what failed."""
    if not APP_REF.match(ref):
        raise ShadowConfigError("app", f"{ref!r} is not module:attribute (e.g. myteam.shadow:app)")
    module_name, _, attribute = ref.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj: object = importlib.import_module(module_name)
    except Exception as exc:
        raise ShadowConfigError(
            "app", f"cannot import module {module_name!r}: {_first_line(exc)}"
        ) from exc
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise ShadowConfigError("app", f"module {module_name!r} has no attribute {attribute!r}")
        obj = getattr(obj, part)
    if not isinstance(obj, ShadowApp):
        raise ShadowConfigError(
            "app", f"{ref} is a {type(obj).__name__}, not a cutover.shadow.ShadowApp"
        )
    return obj


def consumers_of(app: ShadowApp, config: ShadowConfig) -> list[AppConsumer]:
    """The consumers ``config`` selects (``consumers``; all when empty), with their groups and
    topics: the configured topics, else the advanced consumer's own, else the app's."""
    found: list[AppConsumer] = []
    if app.handlers:
        found.append(AppConsumer(app.name, config.group_id, config.topics or app.topics, True))
    for spec in app.consumers.values():
        topics = config.topics or spec.topics or app.topics
        found.append(AppConsumer(spec.name, spec.group(config.group_id), topics, False))
    if not found:
        raise ShadowConfigError("app", f"app {app.name!r} registers no handler and no consumer")
    _check_unique(app, found)
    selected = _select(found, config.consumers)
    for entry in selected:
        if not entry.topics:
            raise ShadowConfigError(
                "topics", f"consumer {entry.name!r} has no topics: pass --topic or set the app's"
            )
    return selected


def _check_unique(app: ShadowApp, found: Sequence[AppConsumer]) -> None:
    names = [c.name for c in found]
    if len(set(names)) != len(names):
        raise ShadowConfigError(
            "app", f"an advanced consumer of {app.name!r} is named like the app's handlers"
        )
    groups = [c.group for c in found]
    if len(set(groups)) != len(groups):
        raise ShadowConfigError(
            "app", f"two consumers of {app.name!r} share a consumer group: {sorted(groups)}"
        )


def _select(found: list[AppConsumer], wanted: Sequence[str]) -> list[AppConsumer]:
    if not wanted:
        return found
    known = [c.name for c in found]
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise ShadowConfigError("consumer", f"unknown consumers {unknown}; known: {known}")
    return [c for c in found if c.name in wanted]


def build_consumer(app: ShadowApp, entry: AppConsumer, ctx: WorkerContext) -> Consumer:
    """Build ``entry``'s processor and store(s) (the app's handlers, or an advanced
    consumer's factory) and make sure its store's tables exist."""
    if entry.handlers:
        from shadow.app import handler_consumer

        consumer = handler_consumer(app, ctx)
    else:
        consumer = app.consumers[entry.name].factory(ctx)
    consumer.store.ensure_schema()
    return consumer
