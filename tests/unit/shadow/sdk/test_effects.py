"""Effects follow each event's mode; follow-up events go to the shadow outbox."""

from __future__ import annotations

from typing import Any

from cutover.shadow import EffectRejected, Event, Handle, ShadowApp
from cutover.shadow_testing import ShadowHarness
from tests.unit.shadow.sdk.conftest import READ_MODEL, favorite


def notifying_app() -> ShadowApp:
    """On each favorite, notify the author (an external call) and note what came back."""
    app = ShadowApp("favorites", tables=[READ_MODEL])

    @app.handler("article.favorited")
    def favorited(event: Event, tx: Handle) -> None:
        receipt = tx.effect(
            "notify",
            lambda key: {"receipt": f"real-{key}"},
            intended={"receipt": "intended"},
            request={"article_id": event.payload["article_id"]},
        )
        tx.write(
            "INSERT INTO favorites_read (article_id, n) VALUES (:id, :n)",
            {"id": event.payload["article_id"], "n": len(receipt["receipt"])},
        )

    return app


def test_effects_follow_each_events_mode_when_the_mode_flips_mid_stream() -> None:
    h = ShadowHarness(notifying_app())
    calls: list[str] = []
    h.on_effect("notify", lambda key: calls.append(key) or {"receipt": "sent"})
    modes = ["dual", "dual", "async", "async", "dual", "events-only"]  # advance, revert, advance
    ids = [
        h.send("article.favorited", favorite(f"a{i}"), key="k", mode=mode)
        for i, mode in enumerate(modes)
    ]
    assert h.run().applied == 6  # one batch, one partition
    rows = h.effects()
    assert [(r["event_id"], r["mode"], r["outcome"]) for r in rows] == [
        (ids[0], "dual", "recorded"),
        (ids[1], "dual", "recorded"),
        (ids[2], "async", "performed"),
        (ids[3], "async", "performed"),
        (ids[4], "dual", "recorded"),
        (ids[5], "events-only", "performed"),
    ]
    assert calls == [f"{ids[i]}:notify" for i in (2, 3, 5)]
    assert rows[0]["result"] == {"receipt": "intended"}
    assert rows[2]["result"] == {"receipt": "sent"}


def test_an_event_without_a_mode_takes_the_workers_default() -> None:
    h = ShadowHarness(notifying_app(), mode="")
    h.send("article.favorited", favorite(), key="k")
    h.run()
    assert [r["outcome"] for r in h.effects()] == ["recorded"]


def test_a_performed_effect_is_not_performed_again_when_its_batch_is_redone() -> None:
    h = ShadowHarness(notifying_app())
    calls: list[str] = []
    h.on_effect("notify", lambda key: calls.append(key) or {"receipt": "sent"})
    good = h.send("article.favorited", favorite("a1"), key="k", mode="async")
    # the same article again: its queued INSERT clashes in the bulk write, so the whole
    # batch is refused and redone event by event — both handlers run a second time
    bad = h.send("article.favorited", favorite("a1"), key="k", mode="async")
    h.run()
    assert calls == [f"{good}:notify", f"{bad}:notify"]
    assert [(r["event_id"], r["outcome"]) for r in h.effects()] == [(good, "performed")]
    assert [d.kind for d in h.dead_letters()] == ["handler_error"]


def test_a_handler_retried_after_its_effect_does_not_perform_it_again() -> None:
    app = ShadowApp("favorites")
    runs: list[int] = []
    calls: list[str] = []

    @app.handler("article.favorited")
    def favorited(event: Event, tx: Handle) -> None:
        tx.effect("notify", calls.append, intended=None)
        runs.append(1)
        if len(runs) < 3:
            raise RuntimeError("flaky after the call")

    h = ShadowHarness(app, mode="async")
    h.send("article.favorited", favorite(), key="k")
    assert h.run().applied == 1
    assert (len(runs), len(calls)) == (3, 1)


def test_a_failing_effect_pauses_its_partition_until_it_succeeds() -> None:
    h = ShadowHarness(notifying_app(), mode="async")
    down = True

    def notify(key: str) -> dict[str, Any]:
        if down:
            raise ConnectionError("notifier down")
        return {"receipt": "ok"}

    h.on_effect("notify", notify)
    h.send("article.favorited", favorite("a1"), key="k")
    h.send("article.favorited", favorite("a2"), key="k")  # same partition: waits
    first = h.run()
    assert first.applied == 0 and first.statuses["deferred"] == 2
    assert h.dead_letters() == []
    down = False
    h.clock.advance(60)
    h.run()
    assert h.query("SELECT article_id FROM favorites_read ORDER BY article_id") == [
        {"article_id": "a1"},
        {"article_id": "a2"},
    ]


def test_an_open_circuit_pauses_the_partition_without_calling() -> None:
    h = ShadowHarness(notifying_app(), mode="async")
    calls: list[str] = []

    def notify(key: str) -> dict[str, Any]:
        calls.append(key)
        raise TimeoutError("slow")

    h.on_effect("notify", notify)
    for i in range(3):
        h.send("article.favorited", favorite(f"a{i}"), key="k")
    for _ in range(4):  # 3 attempts per pause: the breaker opens at its 5th failure
        h.run()
        h.clock.advance(10)
    tried = len(calls)
    h.run()  # the circuit is open: the partition stays paused, nothing is called
    assert tried >= 5 and len(calls) <= tried + 1
    assert h.processor.effects.breakers["notify"].state in ("open", "half_open")
    assert h.dead_letters() == []


def test_a_rejected_effect_comes_back_to_the_handler() -> None:
    app = ShadowApp("favorites", tables=[READ_MODEL])

    @app.handler("article.favorited")
    def favorited(event: Event, tx: Handle) -> None:
        def notify(key: str) -> None:
            raise EffectRejected("notify", "author opted out")

        try:
            tx.effect("notify", notify, intended=None)
        except EffectRejected:
            tx.execute("INSERT INTO favorites_read (article_id, n) VALUES ('opted-out', 0)")

    h = ShadowHarness(app, mode="async")
    h.send("article.favorited", favorite(), key="k")
    h.run()
    [row] = h.effects()
    assert (row["outcome"], row["result"]) == ("rejected", {"reason": "author opted out"})
    assert h.query("SELECT article_id FROM favorites_read") == [{"article_id": "opted-out"}]


def test_emit_writes_an_outbox_row_carrying_mode_correlation_and_causation() -> None:
    app = ShadowApp("favorites")

    @app.handler("article.favorited")
    def favorited(event: Event, tx: Handle) -> None:
        tx.emit(
            "author.notified",
            {"article_id": event.payload["article_id"]},
            aggregate_type="author",
            aggregate_id="au-1",
        )

    h = ShadowHarness(app)
    eid = h.send("article.favorited", favorite("a1"), key="a1", mode="async", correlation_id="c-9")
    h.run()
    [row] = h.emitted()
    assert row == {
        "id": row["id"],
        "aggregatetype": "author",
        "aggregateid": "au-1",
        "type": "author.notified",
        "payload": {"article_id": "a1"},
        "correlation_id": "c-9",
        "causation_id": eid,
        "mode": "async",
    }


def test_a_handler_run_again_emits_the_same_follow_up_id() -> None:
    app = ShadowApp("favorites")
    emitted: list[str] = []
    runs: list[int] = []

    @app.handler("article.favorited")
    def favorited(event: Event, tx: Handle) -> None:
        emitted.append(tx.emit("author.notified", {}, aggregate_type="author", aggregate_id="a"))
        runs.append(1)
        if len(runs) == 1:
            raise RuntimeError("once")

    h = ShadowHarness(app)
    h.send("article.favorited", favorite(), key="k")
    h.run()
    assert emitted[0] == emitted[1]
    assert [r["id"] for r in h.emitted()] == [emitted[0]]


def test_an_effect_declared_twice_for_one_event_is_a_handler_error() -> None:
    app = ShadowApp("favorites")

    @app.handler("article.favorited")
    def favorited(event: Event, tx: Handle) -> None:
        tx.effect("notify", lambda key: None, intended=None)
        tx.effect("notify", lambda key: None, intended=None)

    h = ShadowHarness(app)
    h.send("article.favorited", favorite(), key="k")
    h.run()
    [letter] = h.dead_letters()
    assert "declared effect 'notify' twice" in letter.reason
    assert h.effects() == []
