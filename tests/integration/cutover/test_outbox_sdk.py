"""The outbox SDK on the real stack, with a table whose columns are all renamed.

An application written here (not the sample) names its outbox ``app.events_outbox`` with
columns of its own in the plan's ``outbox:`` block. ``cutover outbox init`` creates it
(``--sql`` only prints the DDL), adopts it on a second run and names each conflict of a
plan that does not match it; ``cutover.emit`` writes through a SQLAlchemy session (in a
small Flask blog whose correlation id comes from the request header) and a psycopg
connection; a Debezium connector built from the block routes the rows to Kafka, where the
headers carry cutover's names; rolled-back transactions leave no row and no event.
"""

from __future__ import annotations

import io
import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import structlog
import yaml
from confluent_kafka import Consumer, Message
from flask import Flask, request
from sqlalchemy import Engine, String, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

import cutover
import cutover.flask
from cdc.debezium import DatabaseOptions, PostgresConnectorOptions, build_postgres_config
from cutover import NotInTransaction, Outbox
from cutover.commands import OutboxCommandConfig, outbox_init
from cutover_common.cli import run_cli
from phases.cli import cli
from phases.plan import load_plan
from rehearsal.stack.endpoints import Endpoints
from shadow.messages import InboundEvent, RawMessage, decode
from tests.integration.topics import ensure_connector_topics
from tests.unit.phases.conftest import SAMPLE

pytestmark = pytest.mark.integration

URL_ENV = "SDK_IT_DATABASE_URL"
RENAMED = {
    "table": "app.events_outbox",
    "id": "event_id",
    "aggregate_type": "stream",
    "aggregate_id": "stream_key",
    "event_type": "kind",
    "payload": "body",
    "correlation_id": "corr",
    "causation_id": "cause",
    "aggregate_version": "seq",
    "mode": "written_in",
    "created_at": "at",
}


def write_plan(path: Path, outbox: dict[str, Any]) -> Path:
    data = yaml.safe_load(SAMPLE.read_text())
    data["system"]["database"]["url_env"] = URL_ENV
    data["outbox"] = outbox
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def plan_path(tmp_path: Path) -> Path:
    return write_plan(tmp_path / "plan.yaml", RENAMED)


class _Environ(dict[str, str]):
    """The command's environment; its repr hides the URL (it holds the stack's password)."""

    def __repr__(self) -> str:
        return f"<environ {sorted(self)}>"


@pytest.fixture
def environ(endpoints: Endpoints, fresh_database: str) -> dict[str, str]:
    return _Environ({URL_ENV: endpoints.database_url(fresh_database)})


def table_exists(endpoints: Endpoints, database: str) -> bool:
    with psycopg.connect(endpoints.dsn(database)) as conn:
        row = conn.execute("select to_regclass('app.events_outbox')").fetchone()
    return row is not None and row[0] is not None


def outbox_rows(endpoints: Endpoints, database: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(endpoints.dsn(database)) as conn:
        return conn.execute(
            "select event_id, stream, stream_key, kind, body, corr, cause, seq, written_in, at "
            "from app.events_outbox order by at, seq"
        ).fetchall()


def test_init_sql_prints_the_ddl_and_creates_nothing(
    endpoints: Endpoints, fresh_database: str, plan_path: Path, environ: dict[str, str]
) -> None:
    out = io.StringIO()
    code = outbox_init(OutboxCommandConfig(plan_path, stdout=out, environ=environ), sql_only=True)
    assert code == 0
    assert 'CREATE TABLE IF NOT EXISTS "app"."events_outbox" (' in out.getvalue()
    assert re.search(r'"body" +jsonb NOT NULL', out.getvalue())
    assert not table_exists(endpoints, fresh_database)


@pytest.fixture
def cli_logging() -> Iterator[None]:
    """The in-process CLI configures logging onto the captured stderr: restore it after."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def test_init_creates_the_table_adopts_it_and_names_each_conflict(
    cli_logging: None,
    endpoints: Endpoints,
    fresh_database: str,
    plan_path: Path,
    environ: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = io.StringIO()
    config = OutboxCommandConfig(plan_path, json=True, stdout=out, environ=environ)
    assert outbox_init(config) == 0
    created = json.loads(out.getvalue())
    assert (created["table"], created["status"], created["index_created"]) == (
        "app.events_outbox",
        "created",
        True,
    )
    with psycopg.connect(endpoints.dsn(fresh_database)) as conn:
        types = dict(
            conn.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'app' and table_name = 'events_outbox'"
            ).fetchall()
        )
        index = conn.execute(
            "select indexdef from pg_indexes where indexname = 'uq_events_outbox_aggregate_version'"
        ).fetchone()
    assert types == {
        "event_id": "uuid",
        "stream": "character varying",
        "stream_key": "character varying",
        "kind": "character varying",
        "body": "jsonb",
        "corr": "character varying",
        "cause": "character varying",
        "seq": "integer",
        "written_in": "character varying",
        "at": "timestamp with time zone",
    }
    assert index is not None and "(stream, stream_key, seq) WHERE (seq > 0)" in index[0]

    # Again, through the CLI: the table is there and matches, so it is adopted as it is.
    monkeypatch.setenv(URL_ENV, environ[URL_ENV])
    assert run_cli(cli, ["outbox", "init", "--plan", str(plan_path)]) == 0
    assert "outbox table app.events_outbox exists and matches" in capsys.readouterr().out

    # A plan that names other columns: each conflict on a line of its own, exit 2, no change.
    other = write_plan(
        tmp_path / "other.yaml", {**RENAMED, "payload": "payload", "mode": "at", "created_at": None}
    )
    assert run_cli(cli, ["outbox", "init", "--plan", str(other)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[1:3] == [
        "  missing column payload (payload)",
        "  column at has type timestamp with time zone, expected varchar or text",
    ]
    assert err[3].startswith("  column body is NOT NULL without a default")
    with psycopg.connect(endpoints.dsn(fresh_database)) as conn:
        count = conn.execute(
            "select count(*) from information_schema.columns where table_name = 'events_outbox'"
        ).fetchone()
    assert count == (10,)


@pytest.fixture
def routed_topic(
    endpoints: Endpoints, fresh_database: str, plan_path: Path, environ: dict[str, str], unique: str
) -> Iterator[str]:
    """The plan's outbox created by init and captured by a connector built from its block."""
    assert outbox_init(OutboxCommandConfig(plan_path, stdout=io.StringIO(), environ=environ)) == 0
    prefix = f"sdk_it_{unique}"
    options = PostgresConnectorOptions(
        database=DatabaseOptions(
            "127.0.0.1",
            endpoints.pg_port,
            endpoints.pg_user,
            fresh_database,
            endpoints.connector_password,
        ),
        topic_prefix=prefix,
        slot_name=prefix,
        publication_name=prefix,
        outbox=load_plan(plan_path).outbox.layout().connector_options(f"{prefix}.ev"),
        heartbeat=None,
        snapshot_mode="no_data",
    )
    name = f"sdk-it-{unique}"  # not "it-...": the cdc fixtures delete those
    client = endpoints.connect_client()
    config = build_postgres_config(options)
    ensure_connector_topics(endpoints.bootstrap_servers, config, ("article",))
    client.create_connector(name, config)
    try:
        client.wait_for(name, "RUNNING", timeout_s=90)
        wait_slot_active(endpoints, fresh_database, prefix)  # rows before it would be missed
        yield f"{prefix}.ev.article"
    finally:
        client.delete_connector(name)


def wait_slot_active(endpoints: Endpoints, database: str, slot: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(endpoints.dsn(database), autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "select active from pg_replication_slots where slot_name = %s", (slot,)
            ).fetchone()
            if row is not None and row[0]:
                return
            time.sleep(0.2)
    pytest.fail(f"replication slot {slot} did not become active in {timeout_s} s")


def consume_until(
    endpoints: Endpoints, topic: str, last_id: str, timeout_s: float = 60
) -> list[Message]:
    consumer = Consumer(
        {
            "bootstrap.servers": endpoints.bootstrap_servers,
            "group.id": f"sdk-it-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    messages: list[Message] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            messages.append(msg)
            if headers(msg).get("id") == last_id:
                break
    finally:
        consumer.close()
    return messages


def headers(msg: Message) -> dict[str, str | None]:
    """Header name -> text (JSON-quoted strings unquoted, as the shadow workers read them)."""
    return {
        k: None if v is None else json.loads(v) if v.startswith(b'"') else v.decode()
        for k, v in msg.headers() or ()
    }


class Base(DeclarativeBase):
    pass


class Article(Base):
    """The test application's own table (a blog, not the sample)."""

    __tablename__ = "articles"

    slug: Mapped[str] = mapped_column(String(100), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))


def blog_app(engine: Engine, outbox: Outbox) -> Flask:
    """A Flask + SQLAlchemy application that publishes articles with an outbox event."""
    app = Flask("blog")
    cutover.flask.init_app(app)

    @app.post("/articles")
    def publish() -> tuple[dict[str, str], int]:
        data = request.get_json()
        session = Session(engine)
        try:
            session.add(Article(slug=data["slug"], title=data["title"]))  # pending, not begun
            event_id = outbox.emit(
                session, "article", data["slug"], "article.published", data, aggregate_version=1
            )
            if data.get("fail"):
                raise RuntimeError("the business write failed after emit")
            session.commit()
        finally:
            session.close()  # rolls back whatever was not committed
        return {"event_id": str(event_id)}, 201

    return app


def articles(endpoints: Endpoints, database: str) -> list[str]:
    with psycopg.connect(endpoints.dsn(database)) as conn:
        return [r[0] for r in conn.execute("select slug from articles order by slug")]


def test_writes_of_each_writer_reach_kafka_with_cutovers_header_names(
    endpoints: Endpoints, fresh_database: str, plan_path: Path, routed_topic: str
) -> None:
    outbox = Outbox.from_plan(plan_path, mode=lambda: "dual")
    engine = create_engine(endpoints.database_url(fresh_database))
    try:
        Base.metadata.create_all(engine)
        client = blog_app(engine, outbox).test_client()
        published = client.post(
            "/articles", json={"slug": "a-1", "title": "One"}, headers={"X-Correlation-ID": "req-1"}
        )
        assert published.status_code == 201
        first = uuid.UUID(published.get_json()["event_id"])
        failed = client.post("/articles", json={"slug": "a-1x", "title": "X", "fail": True})
        assert failed.status_code == 500
        with Session(engine) as session, session.begin():
            rolled_back_sa = outbox.emit(session, "article", "a-1", "article.retracted", {"x": 1})
            session.rollback()
    finally:
        engine.dispose()
    assert articles(endpoints, fresh_database) == ["a-1"]
    with psycopg.connect(endpoints.dsn(fresh_database)) as conn:
        with conn.transaction():
            second = outbox.emit(
                conn,
                "article",
                "a-1",
                "article.commented",
                {"slug": "a-1", "comment": "hi"},
                aggregate_version=2,
                causation_id=first,
            )
        try:
            with conn.transaction():
                rolled_back_pg = outbox.emit(conn, "article", "a-1", "article.deleted", {"x": 2})
                raise RuntimeError("the business write failed")
        except RuntimeError:
            pass
        with conn.transaction():
            last = outbox.emit(conn, "article", "a-1", "article.edited", {"slug": "a-1"})

    rows = outbox_rows(endpoints, fresh_database)
    assert [(r[0], r[2], r[3], r[5], r[6], r[7], r[8]) for r in rows] == [
        (first, "a-1", "article.published", "req-1", None, 1, "dual"),
        (second, "a-1", "article.commented", None, str(first), 2, "dual"),
        (last, "a-1", "article.edited", None, None, 0, "dual"),
    ]

    messages = consume_until(endpoints, routed_topic, str(last))
    got = [headers(m) for m in messages]
    assert [h["id"] for h in got] == [str(first), str(second), str(last)]
    assert str(rolled_back_sa) not in {h["id"] for h in got}
    assert str(rolled_back_pg) not in {h["id"] for h in got}
    assert [m.key() for m in messages] == [b"a-1"] * 3  # one partition: reading up to the
    # last event proves the rolled-back ones (written before it) were never published
    assert json.loads(messages[1].value()) == {"slug": "a-1", "comment": "hi"}
    assert {k: got[1][k] for k in ("type", "causation_id", "aggregate_version", "mode")} == {
        "type": "article.commented",
        "causation_id": str(first),
        "aggregate_version": "2",
        "mode": "dual",
    }
    assert got[0]["correlation_id"] == "req-1"
    assert not {"kind", "corr", "cause", "seq", "written_in"} & set(got[1])
    # ... which is what the shadow workers decode.
    raw = RawMessage(
        messages[1].topic(),
        messages[1].partition(),
        messages[1].offset(),
        messages[1].key(),
        messages[1].value(),
        tuple(messages[1].headers() or ()),
    )
    event = decode(raw)
    assert isinstance(event, InboundEvent)
    assert (event.event_id, event.event_type, event.aggregate_id) == (
        str(second),
        "article.commented",
        "a-1",
    )
    assert (event.causation_id, event.sequence, event.context) == (str(first), 2, "article")


def test_emit_outside_a_transaction_writes_nothing(
    endpoints: Endpoints, fresh_database: str, plan_path: Path, environ: dict[str, str]
) -> None:
    assert outbox_init(OutboxCommandConfig(plan_path, stdout=io.StringIO(), environ=environ)) == 0
    outbox = Outbox.from_plan(plan_path)
    args = ("article", "a-1", "article.published", {"slug": "a-1"})
    with (
        psycopg.connect(endpoints.dsn(fresh_database), autocommit=True) as conn,
        pytest.raises(NotInTransaction, match="autocommit"),
    ):
        outbox.emit(conn, *args)
    with psycopg.connect(endpoints.dsn(fresh_database)) as conn:
        with pytest.raises(NotInTransaction, match="idle"):
            outbox.emit(conn, *args)
        conn.commit()
    engine = create_engine(endpoints.database_url(fresh_database), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as sa_conn:
            sa_conn.exec_driver_sql("select 1")
            with pytest.raises(NotInTransaction, match="AUTOCOMMIT"):
                outbox.emit(sa_conn, *args)
    finally:
        engine.dispose()
    assert outbox_rows(endpoints, fresh_database) == []
