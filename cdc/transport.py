"""How the client talks to a Connect worker: a small transport port and its adapters.

:class:`Transport` is the port; :class:`RequestsTransport` is the real adapter
over ``requests`` (basic auth, TLS with a CA bundle or verification off); the
in-memory :class:`cdc.fake.FakeConnectWorker` implements the same port for unit
tests. Third-party exceptions are translated in one place,
:func:`map_requests_exceptions`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests

from cdc.errors import ConnectUnreachable
from cutover_common.secrets import Secret, redact

Params = Sequence[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """What a transport returns: the status, the parsed JSON body (or None) and the raw text."""

    status: int
    body: Any = None
    text: str = ""


class Transport(Protocol):
    """Sends one HTTP request to a Connect worker and returns its response."""

    @property
    def base_url(self) -> str: ...

    def request(
        self, method: str, path: str, *, params: Params = (), body: Any = None
    ) -> HttpResponse: ...


@dataclass(frozen=True, slots=True)
class BasicAuth:
    """HTTP basic credentials; the password is a :class:`Secret` and never prints."""

    username: str
    password: Secret

    @classmethod
    def parse(cls, user_colon_password: str) -> BasicAuth:
        """``user:password`` (as kept in an environment variable) to credentials."""
        user, _, password = user_colon_password.partition(":")
        return cls(user, Secret(password))


@dataclass(frozen=True, slots=True)
class TlsOptions:
    """TLS settings: a CA bundle path, or ``verify=False`` for self-signed test workers."""

    verify: bool = True
    ca_bundle: str | None = None
    client_cert: str | None = None
    client_key: str | None = None

    def requests_verify(self) -> bool | str:
        if not self.verify:
            return False
        return self.ca_bundle or True

    def requests_cert(self) -> str | tuple[str, str] | None:
        if self.client_cert and self.client_key:
            return (self.client_cert, self.client_key)
        return self.client_cert


@contextmanager
def map_requests_exceptions(url: str) -> Iterator[None]:
    """Turn ``requests`` failures into :class:`ConnectUnreachable` (redacted, with the URL)."""
    try:
        yield
    except requests.exceptions.SSLError as exc:
        raise ConnectUnreachable(url, f"TLS error: {redact(str(exc))}") from None
    except requests.exceptions.Timeout as exc:
        raise ConnectUnreachable(url, f"timed out: {redact(str(exc))}") from None
    except requests.exceptions.ConnectionError as exc:
        raise ConnectUnreachable(url, f"connection failed: {redact(str(exc))}") from None
    except requests.exceptions.RequestException as exc:
        raise ConnectUnreachable(url, f"request failed: {redact(str(exc))}") from None


@dataclass(slots=True)
class RequestsTransport:
    """The real transport: one ``requests.Session`` per client."""

    url: str
    auth: BasicAuth | None = None
    tls: TlsOptions = field(default_factory=TlsOptions)
    timeout_s: float = 30.0
    _session: requests.Session = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        session = requests.Session()
        session.headers.update({"Accept": "application/json"})
        if self.auth is not None:
            session.auth = (self.auth.username, self.auth.password.reveal())
        session.verify = self.tls.requests_verify()
        session.cert = self.tls.requests_cert()
        self._session = session

    @property
    def base_url(self) -> str:
        return self.url

    def __repr__(self) -> str:
        user = f"{self.auth.username}:***@" if self.auth else ""
        return f"RequestsTransport({user}{self.url!r}, tls={self.tls!r})"

    def request(
        self, method: str, path: str, *, params: Params = (), body: Any = None
    ) -> HttpResponse:
        with map_requests_exceptions(self.url):
            resp = self._session.request(
                method,
                self.url + path,
                params=list(params) or None,
                json=body,
                timeout=self.timeout_s,
            )
        text = resp.text
        parsed: Any = None
        if text:
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
        return HttpResponse(resp.status_code, parsed, text)

    def close(self) -> None:
        self._session.close()
