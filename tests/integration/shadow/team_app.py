"""A team's shadow app, written the way a team writes one: only ``cutover.shadow``, in
another domain than the sample's.

Readers favorite articles. The shadow side keeps a log of favorites (the batch form,
:meth:`~cutover.shadow.Handle.write`) and a count per article (:meth:`~cutover.shadow.Handle.
execute`), and tells the article's author through an external notifier (an effect). None
of its writes is idempotent by itself — ``favorite_log`` has no unique key and the count is
an increment — so an event applied twice shows up as two rows or a count too high: the
runtime's claim is all that keeps them exactly once.

Its contracts are the JSON Schema files in ``team_contracts/``. The notifier's URL is
read from ``FAVORITES_NOTIFIER_URL`` when an effect is performed (``async`` and
``events-only`` events only). A favorite by :data:`BROKEN_READER` hits a bug in the
handler (it always raises).
"""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

from cutover.shadow import Event, Handle, ShadowApp

CONTRACTS = Path(__file__).with_name("team_contracts")
NOTIFIER_URL_ENV = "FAVORITES_NOTIFIER_URL"
BROKEN_READER = "reader-the-handler-cannot-take"
INTENDED = "intended"
"""What the notifier effect returns when it is only recorded (``dual``)."""

app = ShadowApp(
    "favorites",
    contracts=CONTRACTS,
    tables=[
        "CREATE TABLE IF NOT EXISTS favorite_log ("
        " event_id text NOT NULL, article_id text NOT NULL, reader text NOT NULL,"
        " change integer NOT NULL, mode text NOT NULL)",
        "CREATE TABLE IF NOT EXISTS favorite_counts ("
        " article_id text PRIMARY KEY, favorites integer NOT NULL)",
        "CREATE TABLE IF NOT EXISTS notifications (event_id text NOT NULL, outcome text NOT NULL)",
    ],
)


@app.handler("article.favorited")
def favorited(event: Event, tx: Handle) -> None:
    """Log and count the favorite, then notify the article's author."""
    if event.payload["reader"] == BROKEN_READER:
        raise RuntimeError(f"no author to notify for {event.payload['article_id']}")
    _count(event, tx, +1)
    outcome = tx.effect(
        "notifier",
        lambda key: notify(key, event.payload),
        intended=INTENDED,
        request=dict(event.payload),
    )
    tx.write(
        "INSERT INTO notifications (event_id, outcome) VALUES (:event_id, :outcome)",
        {"event_id": event.id, "outcome": outcome},
    )


@app.handler("article.unfavorited")
def unfavorited(event: Event, tx: Handle) -> None:
    """Log the favorite taken back and count it down (no notification)."""
    _count(event, tx, -1)


def _count(event: Event, tx: Handle, change: int) -> None:
    tx.write(
        "INSERT INTO favorite_log (event_id, article_id, reader, change, mode) "
        "VALUES (:event_id, :article_id, :reader, :change, :mode)",
        {
            "event_id": event.id,
            "article_id": event.payload["article_id"],
            "reader": event.payload["reader"],
            "change": change,
            "mode": event.mode,
        },
    )
    tx.execute(
        "INSERT INTO favorite_counts (article_id, favorites) VALUES (:article_id, :change) "
        "ON CONFLICT (article_id) "
        "DO UPDATE SET favorites = favorite_counts.favorites + :change",
        {"article_id": event.payload["article_id"], "change": change},
    )


def notify(idempotency_key: str, payload: object) -> str:
    """POST the favorite to the notifier; its answer (``sent``)."""
    request = urllib.request.Request(
        os.environ[NOTIFIER_URL_ENV],
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "Idempotency-Key": idempotency_key},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return str(response.read().decode())
