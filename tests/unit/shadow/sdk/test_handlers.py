"""A team's handlers under the in-memory harness: applied once, retried, dead-lettered."""

from __future__ import annotations

import time
from pathlib import Path

import msgspec
import pydantic

from cutover.shadow import Event, Handle, ShadowApp
from cutover.shadow_testing import ShadowHarness
from tests.unit.shadow.sdk.conftest import COUNT, READ_MODEL, favorite, favorites_app


def test_a_team_handler_is_tested_end_to_end_in_memory() -> None:
    app = ShadowApp("favorites", tables=[READ_MODEL])

    @app.handler("article.favorited")
    def favorited(event: Event, tx: Handle) -> None:
        tx.execute(COUNT, {"id": event.payload["article_id"]})

    h = ShadowHarness(app)
    h.send("article.favorited", favorite("a1"), key="a1")
    h.send("article.favorited", favorite("a1", "u2"), key="a1")
    h.run()
    assert h.query("SELECT article_id, n FROM favorites_read") == [{"article_id": "a1", "n": 2}]


def test_an_event_delivered_26_times_is_applied_once() -> None:
    h = ShadowHarness(favorites_app())
    eid = h.send("article.favorited", favorite("a1"), key="a1")
    h.run()
    for _ in range(25):
        h.redeliver(eid)
    report = h.run()
    assert report.statuses["duplicate"] == 25
    assert h.query("SELECT n FROM favorites_read") == [{"n": 1}]


def test_a_replay_of_the_whole_topic_applies_nothing_twice() -> None:
    h = ShadowHarness(favorites_app())
    for article in ("a1", "a2", "a1"):
        h.send("article.favorited", favorite(article), key=article)
    h.run()
    h.replay_all()
    assert h.run().applied == 0
    assert h.query("SELECT article_id, n FROM favorites_read ORDER BY article_id") == [
        {"article_id": "a1", "n": 2},
        {"article_id": "a2", "n": 1},
    ]


def test_a_handler_that_raises_is_retried_then_dead_lettered_with_its_reason() -> None:
    app = ShadowApp("favorites", tables=[READ_MODEL])
    runs: list[str] = []

    @app.handler("article.favorited")
    def favorited(event: Event, tx: Handle) -> None:
        runs.append(event.id)
        tx.execute(COUNT, {"id": event.payload["article_id"]})
        raise RuntimeError("the read model is confused")

    h = ShadowHarness(app, max_attempts=3)
    eid = h.send("article.favorited", favorite("a1"), key="a1")
    h.run()
    [letter] = h.dead_letters()
    assert (letter.event_id, letter.kind, letter.attempts) == (eid, "handler_error", 3)
    assert "the read model is confused" in letter.reason
    assert runs == [eid] * 3
    assert h.query("SELECT n FROM favorites_read") == []  # each run's statement rolled back


def test_a_handler_returning_a_value_is_dead_lettered() -> None:
    app = ShadowApp("favorites")

    @app.handler("article.favorited")
    def favorited(event: Event, tx: Handle) -> None:
        return {"oops": 1}  # type: ignore[return-value]

    h = ShadowHarness(app)
    h.send("article.favorited", favorite(), key="a1")
    h.run()
    [letter] = h.dead_letters()
    assert letter.kind == "handler_error"
    assert "handler of article.favorited returned dict; handlers return None" in letter.reason


def test_a_handler_past_its_timeout_is_dead_lettered_with_the_timeout() -> None:
    app = ShadowApp("favorites", tables=[READ_MODEL])
    h: ShadowHarness

    @app.handler("article.favorited", timeout=2.0)
    def favorited(event: Event, tx: Handle) -> None:
        tx.execute(COUNT, {"id": event.payload["article_id"]})
        h.clock.advance(3.0)  # a slow handler, on the harness's clock

    h = ShadowHarness(app)
    h.send("article.favorited", favorite(), key="a1")
    h.run()
    [letter] = h.dead_letters()
    assert letter.kind == "handler_error"
    assert "timeout after 2s" in letter.reason
    assert h.query("SELECT n FROM favorites_read") == []


def test_a_handler_stuck_past_its_timeout_is_interrupted() -> None:
    app = ShadowApp("favorites")

    @app.handler("article.favorited", timeout=0.02)
    def favorited(event: Event, tx: Handle) -> None:
        time.sleep(30)

    h = ShadowHarness(app, real_timeouts=True, max_attempts=2)
    h.send("article.favorited", favorite(), key="a1")
    started = time.monotonic()
    h.run()
    assert time.monotonic() - started < 5
    [letter] = h.dead_letters()
    assert "timeout after 0.02s" in letter.reason


def test_an_unknown_type_is_dead_lettered_when_the_app_has_contracts(contracts: Path) -> None:
    h = ShadowHarness(favorites_app(contracts=contracts))
    eid = h.send("article.shared", {"article_id": "a1"}, key="a1")
    h.run()
    [letter] = h.dead_letters()
    assert (letter.event_id, letter.kind) == (eid, "unknown_type")
    assert "article.shared" in letter.reason


def test_an_unknown_type_is_ignored_without_contracts() -> None:
    h = ShadowHarness(favorites_app())
    h.send("article.shared", {"article_id": "a1"}, key="a1")
    report = h.run()
    assert report.statuses["ignored"] == 1
    assert h.dead_letters() == []


def test_a_known_type_no_handler_takes_is_ignored(contracts: Path) -> None:
    h = ShadowHarness(favorites_app(contracts=contracts))
    h.send("article.unfavorited", {"article_id": "a1"}, key="a1")
    assert h.run().statuses["ignored"] == 1
    assert h.dead_letters() == []


def test_a_payload_failing_its_contract_is_dead_lettered_schema_invalid(contracts: Path) -> None:
    h = ShadowHarness(favorites_app(contracts=contracts))
    h.send("article.favorited", {"article_id": "", "user": "u1", "source": "web"}, key="a1")
    h.run()
    [letter] = h.dead_letters()
    assert letter.kind == "schema_invalid"
    assert "/article_id" in letter.reason
    assert "\n" not in letter.reason


def test_an_event_written_at_an_older_version_is_upcast_for_the_handler(contracts: Path) -> None:
    app = ShadowApp("favorites", contracts=contracts)
    seen: list[dict[str, object]] = []

    @app.handler("article.favorited")
    def favorited(event: Event, tx: Handle) -> None:
        seen.append(dict(event.payload))

    h = ShadowHarness(app)
    h.send("article.favorited", favorite("a1"), key="a1", headers={"schema_version": "1"})
    h.run()
    assert seen == [{"article_id": "a1", "user": "u1", "source": "web"}]


class Favorited(msgspec.Struct):
    article_id: str
    user: str
    weight: int = 1


def test_the_handler_gets_its_payload_type() -> None:
    app = ShadowApp("favorites")
    seen: list[Favorited] = []

    @app.handler("article.favorited", payload=Favorited)
    def favorited(event: Event, tx: Handle) -> None:
        seen.append(event.data)

    h = ShadowHarness(app)
    h.send("article.favorited", favorite("a1", weight=3), key="a1")
    h.run()
    assert seen == [Favorited("a1", "u1", 3)]


def test_a_payload_that_does_not_convert_to_its_type_is_dead_lettered() -> None:
    app = ShadowApp("favorites")

    @app.handler("article.favorited", payload=Favorited)
    def favorited(event: Event, tx: Handle) -> None:
        raise AssertionError("never called")

    h = ShadowHarness(app)
    h.send("article.favorited", favorite("a1", weight="heavy"), key="a1")
    h.run()
    [letter] = h.dead_letters()
    assert letter.kind == "schema_invalid"
    assert "Favorited" in letter.reason and "weight" in letter.reason


class FavoritedModel(pydantic.BaseModel):
    article_id: str
    user: str


def test_a_pydantic_payload_type_is_validated_by_pydantic() -> None:
    app = ShadowApp("favorites")
    seen: list[FavoritedModel] = []

    @app.handler("article.favorited", payload=FavoritedModel)
    def favorited(event: Event, tx: Handle) -> None:
        seen.append(event.data)

    h = ShadowHarness(app)
    h.send("article.favorited", favorite("a1"), key="a1")
    h.send("article.favorited", {"article_id": "a2"}, key="a2")
    h.run()
    assert seen == [FavoritedModel(article_id="a1", user="u1")]
    assert [d.kind for d in h.dead_letters()] == ["schema_invalid"]


def test_poison_never_blocks_its_partition() -> None:
    app = ShadowApp("favorites", tables=[READ_MODEL])

    @app.handler("article.favorited")
    def favorited(event: Event, tx: Handle) -> None:
        if event.payload["user"] == "bad":
            raise ValueError("bad user")
        tx.execute(COUNT, {"id": event.payload["article_id"]})

    h = ShadowHarness(app)
    h.send("article.favorited", favorite("a1", "bad"), key="a1")
    h.send_raw("outbox.event.article", b"a1", b"{not json", ((("id", b"x"), ("type", b"y"))))
    for user in ("u1", "u2", "u3"):
        h.send("article.favorited", favorite("a1", user), key="a1")  # same key, same partition
    h.run()
    assert sorted(d.kind for d in h.dead_letters()) == ["handler_error", "undecodable"]
    assert h.query("SELECT n FROM favorites_read") == [{"n": 3}]


def test_an_event_whose_queued_write_is_refused_keeps_none_of_its_statements() -> None:
    app = ShadowApp("favorites", tables=[READ_MODEL, "CREATE TABLE seen (id text PRIMARY KEY)"])

    @app.handler("article.favorited")
    def favorited(event: Event, tx: Handle) -> None:
        tx.execute(COUNT, {"id": event.payload["article_id"]})
        tx.write("INSERT INTO seen (id) VALUES (:u)", {"u": event.payload["user"]})

    h = ShadowHarness(app)
    # the second favorite's queued insert clashes with the first's: the batch is redone
    # event by event and the second is dead-lettered — with its count rolled back too
    for user in ("u1", "u1", "u2"):
        h.send("article.favorited", favorite("a1", user), key="a1")
    h.run()
    assert [d.kind for d in h.dead_letters()] == ["handler_error"]
    assert h.query("SELECT n FROM favorites_read") == [{"n": 2}]
    assert h.query("SELECT id FROM seen ORDER BY id") == [{"id": "u1"}, {"id": "u2"}]


def test_a_handler_reads_the_workers_options() -> None:
    app = ShadowApp("favorites", tables=[READ_MODEL])
    seen: list[str] = []

    @app.handler("article.favorited")
    def favorited(event: Event, tx: Handle) -> None:
        seen.append(tx.options["notifier_url"])

    h = ShadowHarness(app, options={"notifier_url": "http://notifier:8080"})
    h.send("article.favorited", favorite("a1"), key="a1")
    h.run()
    assert seen == ["http://notifier:8080"]
