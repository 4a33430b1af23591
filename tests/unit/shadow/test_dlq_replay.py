"""Dead letters replayed through the runtime's own path (in-memory harness): applied once
after a fix, a second replay finds them duplicate, what fails again stays failed."""

from __future__ import annotations

from typing import Any

from cutover.shadow import Event, Handle, ShadowApp
from cutover.shadow_testing import ShadowHarness
from shadow.dlq_ops import Letter
from shadow.dlq_replay import HeldLetters, LetterFeed, Replayed, replay_letters
from shadow.runtime import RuntimeSettings, ShadowWorker
from tests.unit.shadow.sdk.conftest import COUNT, READ_MODEL, favorite

BROKEN = {"a1", "a2"}
"""Articles whose favorites the handler cannot take (the bug); emptied by the "fix"."""


def buggy_app() -> ShadowApp:
    app = ShadowApp("favorites", tables=[READ_MODEL])

    @app.handler("article.favorited")
    def favorited(event: Event, tx: Handle) -> None:
        if event.payload["article_id"] in BROKEN:
            raise KeyError(event.payload["article_id"])
        tx.execute(COUNT, {"id": event.payload["article_id"]})

    return app


class KeptOpen:
    """The harness's store, which the replay's worker must not close (SQLite in memory)."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def close(self) -> None:
        return None


def _replay(h: ShadowHarness, letters: list[Letter]) -> list[Replayed]:
    def worker(feed: LetterFeed, held: HeldLetters) -> ShadowWorker:
        settings = RuntimeSettings(
            ("t",), h.dlq_topic, batch_size=1, batch_timeout=0.0, backoff_base=0.0,
            pause_seconds=0.0,
        )  # fmt: skip
        return ShadowWorker(
            feed, held, KeptOpen(h.store), h.processor, settings, sleep=lambda _s: None
        )

    return replay_letters([x.original() for x in letters], worker)


def _poisoned() -> tuple[ShadowHarness, list[Letter]]:
    BROKEN.clear()
    BROKEN.update({"a1", "a2"})
    h = ShadowHarness(buggy_app())
    for article in ("a1", "a2", "a3"):
        h.send("article.favorited", favorite(article), key=article)
    h.run()
    letters = [Letter.from_raw(m) for m in h.broker.records(h.dlq_topic)]
    return h, letters


def test_letters_replayed_after_a_fix_are_applied_once() -> None:
    h, letters = _poisoned()
    assert sorted(x.key or b"" for x in letters) == [b"a1", b"a2"]
    BROKEN.clear()  # the fix
    first = _replay(h, letters)
    assert [r.outcome for r in first] == ["applied", "applied"]
    second = _replay(h, letters)
    assert [r.outcome for r in second] == ["duplicate", "duplicate"]
    assert h.query("SELECT article_id, n FROM favorites_read ORDER BY article_id") == [
        {"article_id": "a1", "n": 1},
        {"article_id": "a2", "n": 1},
        {"article_id": "a3", "n": 1},
    ]


def test_a_letter_that_fails_again_stays_failed_with_its_new_reason() -> None:
    h, letters = _poisoned()
    BROKEN.discard("a1")  # a fix for one of the two
    outcomes = {r.record.key: r for r in _replay(h, letters)}
    assert outcomes[b"a1"].outcome == "applied"
    assert outcomes[b"a2"].outcome == "failed" and "a2" in outcomes[b"a2"].reason
    assert len(h.broker.records(h.dlq_topic)) == 2  # nothing dead-lettered a second time
