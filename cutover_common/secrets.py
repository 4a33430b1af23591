"""Secrets never reach logs, reports or exceptions.

Two mechanisms work together:

* :class:`Secret` wraps a sensitive string; its ``repr``/``str`` print ``'***'``
  and the clear value is only available through :meth:`Secret.reveal`.
* :func:`redact` scrubs free text: every value ever wrapped in a ``Secret``
  (a process-wide registry), passwords embedded in URLs, and ``key=value`` /
  JSON pairs whose key looks sensitive (password, secret, token, ...).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

MASK = "***"

_SECRET_WORDS = (
    r"password|passwd|passphrase|secret|token|credential|api[_.-]?key|private[_.-]?key|"  # noqa: S105 - key names, not a password
    r"authorization|sasl\.jaas\.config|basic\.auth\.user\.info"
)
# "pass" alone only as a whole word of a key (db.pass, pass), never "passed" or "passes".
_SENSITIVE_KEY = re.compile(rf"({_SECRET_WORDS})|(^|[._-])pass($|[._-])", re.IGNORECASE)
_URL_PASSWORD = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@"
)
_KV_PAIR = re.compile(
    r"(?P<key>[\w.\-]*(?:password|passwd|passphrase|secret|token|credential|api[_.-]?key)[\w.\-]*)"
    r"(?P<sep>\s*[=:]\s*|\"\s*:\s*\")(?P<val>[^\s,;\"'&}]+)",
    re.IGNORECASE,
)
_AUTH_HEADER = re.compile(r"(?P<p>\b(Basic|Bearer)\s+)[A-Za-z0-9+/=._\-]+", re.IGNORECASE)

_registry: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Remember ``value`` so that :func:`redact` masks it wherever it appears."""
    if value and len(value) >= 3:
        with _lock:
            _registry.add(value)


def is_sensitive_key(key: str) -> bool:
    """True when a mapping key names something that must not be shown."""
    return bool(_SENSITIVE_KEY.search(key))


def redact(text: str) -> str:
    """Return ``text`` with every known secret, URL password and sensitive pair masked."""
    if not text:
        return text
    with _lock:
        known = sorted(_registry, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, MASK)
    text = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _KV_PAIR.sub(lambda m: f"{m['key']}{m['sep']}{MASK}", text)
    return _AUTH_HEADER.sub(lambda m: f"{m['p']}{MASK}", text)


def redact_value(value: Any) -> Any:
    """Redact a JSON-like value recursively: sensitive keys masked, strings scrubbed."""
    if isinstance(value, Mapping):
        return {
            k: (
                MASK
                if isinstance(k, str) and is_sensitive_key(k) and v not in (None, "")
                else redact_value(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Secret):
        return MASK
    return value


class Secret:
    """A sensitive string that prints as ``***``.

    >>> s = Secret("hunter2")
    >>> repr(s), str(s), s.reveal()
    ("Secret('***')", '***', 'hunter2')
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register_secret(value)

    def reveal(self) -> str:
        """The clear value, for the one call that needs it (a connection, a header)."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)
