"""The current request's correlation id, as a context variable.

The Flask extension (:mod:`cutover.flask`) sets it per request; a worker or a script
sets it with :func:`correlation_scope`. :func:`cutover.emit` stamps it on the outbox
row when the caller gives none, and it travels to Kafka as the ``correlation_id`` header.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_current: ContextVar[str | None] = ContextVar("cutover_correlation_id", default=None)


def current_correlation_id() -> str | None:
    """The correlation id of the request (or scope) being served, or None outside one."""
    return _current.get()


def new_correlation_id() -> str:
    """A fresh correlation id (a random UUID's text)."""
    return str(uuid.uuid4())


@contextmanager
def correlation_scope(correlation_id: str | None = None) -> Iterator[str]:
    """Make ``correlation_id`` (a new one when None) current inside the ``with`` block."""
    value = correlation_id or new_correlation_id()
    token = _current.set(value)
    try:
        yield value
    finally:
        _current.reset(token)
