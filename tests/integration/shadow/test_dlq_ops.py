"""Dead letters an operator can run, on the real Kafka and Postgres: a team's handler bug
dead-letters two favorites and an undecodable record lands beside them; ``dlq list`` shows
them, ``dlq replay`` after the fix applies the two once (a second replay finds them
duplicate), ``dlq purge`` acknowledges the third — and the gate's dead-letter count is 0
while the topic still holds all three, until ``purge --delete-records`` removes them."""

from __future__ import annotations

import io
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from confluent_kafka import Producer

from cutover.shadow import WorkerContext
from cutover_common.secrets import Secret
from phases.dlq_acks import AuditAckLog, dead_letters_left
from phases.store import StateStore, make_engine
from rehearsal.stack.endpoints import Endpoints
from shadow.app import handler_consumer
from shadow.cli import shadow
from shadow.config import ShadowConfig
from shadow.dlq_commands import dlq_list, dlq_purge, dlq_replay
from shadow.dlq_kafka import watermarks
from shadow.dlq_ops import LetterFilter
from tests.integration.shadow import team_app
from tests.integration.shadow.conftest import kafka_worker
from tests.integration.topics import ensure_topics

APP_REF = "tests.integration.shadow.team_app:app"
SCHEMA = "shadow"


Record = tuple[bytes, bytes, list[tuple[str, str | bytes | None]]]


def _favorite(event_id: str, reader: str) -> Record:
    payload = {"article_id": "art-1", "reader": reader}
    headers: list[tuple[str, str | bytes | None]] = [
        ("id", event_id), ("type", "article.favorited"), ("mode", "dual"),
    ]  # fmt: skip
    return b"art-1", json.dumps(payload).encode(), headers


def test_list_replay_purge_round_trip_and_the_gate_count_after_a_purge(
    endpoints: Endpoints,
    fresh_database: str,
    unique: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topic, group = f"dlq-ops-{unique}.favorite", f"dlq-ops-{unique}"
    dlq = f"{group}.dlq"
    bootstrap, dsn = endpoints.bootstrap_servers, endpoints.dsn(fresh_database)
    ensure_topics(bootstrap, {topic: 1, dlq: 1})
    producer = Producer({"bootstrap.servers": bootstrap})
    junk: Record = (b"art-1", b"\x00not json", [("id", b"e-junk"), ("type", b"article.favorited")])
    for record in (
        _favorite("e-ok", "reader-1"),
        _favorite("e-bug-1", team_app.BROKEN_READER),
        junk,
        _favorite("e-bug-2", team_app.BROKEN_READER),
    ):
        producer.produce(topic, key=record[0], value=record[1], headers=record[2])
    assert producer.flush(30) == 0
    built = handler_consumer(team_app.app, WorkerContext(dsn, SCHEMA, "dual"))
    built.store.ensure_schema()
    kafka_worker(
        endpoints, built.store, built.processor, topic, group, max_attempts=2, backoff_base=0.0
    ).run(lambda: False, idle_stop=2.0)

    state = StateStore(make_engine(f"sqlite:///{tmp_path / 'state.db'}"))
    state.initialise()
    acks = AuditAckLog(state, "ops@test")
    config = ShadowConfig(bootstrap, Secret(dsn), APP_REF, group_id=group, topics=(topic,))
    listed = dlq_list(config, acks=acks)
    assert sorted((r.letter.kind, r.letter.event_id) for r in listed) == [
        ("handler_error", "e-bug-1"), ("handler_error", "e-bug-2"), ("undecodable", "e-junk"),
    ]  # fmt: skip
    conf = {"bootstrap.servers": bootstrap}
    assert dead_letters_left(conf, dlq, acks=acks) == 3
    assert dead_letters_left(conf, dlq, since=datetime.now(UTC)) == 0  # none since the phase

    monkeypatch.setattr(team_app, "BROKEN_READER", "nobody")  # the fix
    bugs = LetterFilter(kinds=("handler_error",))
    first = dlq_replay(config, bugs, acks=acks, payloads=None, actor="ops", out=io.StringIO())
    assert first.counts() == {"applied": 2, "duplicate": 0, "failed": 0, "ignored": 0}
    again = dlq_replay(
        config, bugs, acks=acks, payloads=None, actor="ops", include_acked=True,
        out=io.StringIO(),
    )  # fmt: skip
    assert again.counts() == {"applied": 0, "duplicate": 2, "failed": 0, "ignored": 0}
    with psycopg.connect(dsn) as conn:
        row = conn.execute(f"SELECT count(*) FROM {SCHEMA}.favorite_log").fetchone()
    assert row is not None and row[0] == 3  # e-ok, then each fixed favorite once
    assert [r.letter.event_id for r in dlq_list(config, acks=acks)] == ["e-junk"]

    [purged] = dlq_purge(config, LetterFilter(), acks=acks, payloads=None, actor="ops@test")
    assert (purged.count, purged.action, purged.deleted_up_to) == (1, "purge", {})
    assert state.history(5, action="dlq-ack")[0].actor == "ops@test"
    assert watermarks(bootstrap, dlq) == {0: (0, 3)}  # the topic still holds all three
    assert dead_letters_left(conf, dlq, acks=acks) == 0

    env = {**os.environ, "CUTOVER_STATE_URL": f"sqlite:///{tmp_path / 'state.db'}"}
    base = ["--bootstrap", bootstrap, "--dsn", dsn, "--group", group, "dlq"]
    app = ["--app", APP_REF, "--topic", topic, "--plan", str(tmp_path / "none.yaml")]
    shown = CliRunner().invoke(shadow, [*base, "show", f"{topic}:0@2", *app, "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    letter = json.loads(shown.output)
    assert (letter["kind"], letter["dlq"], letter["headers"]["id"]) == (
        "undecodable", f"{dlq}:0@1", "e-junk",
    )  # fmt: skip
    assert letter["value"] == "\x00not json"
    run = CliRunner().invoke(shadow, [*base, "purge", *app, "--yes", "--delete-records"], env=env)
    assert run.exit_code == 0, run.output
    assert f"{dlq}: acknowledged 0 dead letter(s); records deleted up to {{0: 3}}" in run.output
    assert watermarks(bootstrap, dlq) == {0: (3, 3)}
    assert dead_letters_left(conf, dlq, acks=acks) == 0
    listed_cli = CliRunner().invoke(shadow, [*base, "list", *app, "--all", "--json"], env=env)
    assert listed_cli.exit_code == 0 and json.loads(listed_cli.output) == []
