"""A Flask extension that makes each request's correlation id current.

::

    import cutover.flask
    cutover.flask.init_app(app)                         # header X-Correlation-ID

The id comes from the incoming header (a new one when the header is absent, empty or
unusable), is current for the whole request (:func:`cutover.current_correlation_id`,
stamped by :func:`cutover.emit`) and is echoed on the response under the same header.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, Response, g, request

from cutover.correlation import _current, new_correlation_id

DEFAULT_HEADER = "X-Correlation-ID"
_USABLE = re.compile(r"^[A-Za-z0-9._:\-]{1,255}$")
_G_KEY = "_cutover_correlation"


def init_app(app: Flask, header: str = DEFAULT_HEADER, *, echo: bool = True) -> None:
    """Read the correlation id from ``header`` on every request of ``app``.

    A value that is not 1-255 characters of letters, digits, ``.``, ``_``, ``:`` or
    ``-`` is replaced by a new id (an outbox column holds at most 255 characters, and a
    header is no place for arbitrary text). ``echo`` sets the header on the response.
    """

    def begin() -> None:
        incoming = request.headers.get(header, "").strip()
        value = incoming if _USABLE.match(incoming) else new_correlation_id()
        setattr(g, _G_KEY, (_current.set(value), value))

    def answer(response: Response) -> Response:
        held = getattr(g, _G_KEY, None)
        if echo and held is not None:
            response.headers[header] = held[1]
        return response

    def end(_exc: BaseException | None = None) -> None:
        held: Any = g.pop(_G_KEY, None)
        if held is not None:
            try:
                _current.reset(held[0])
            except ValueError:  # torn down in another context (e.g. a copied one)
                _current.set(None)

    app.before_request(begin)
    app.after_request(answer)
    app.teardown_request(end)
    app.extensions["cutover.correlation"] = header
