"""The mode switch and the migration runner on the real stack, with an application written
here (a blog's "favourite an article": a favourites table of its own, a notification service
without a dry-run endpoint, a quote service that answers too slowly).

The runner runs in each mode, flipped in cutover's modes table as ``phases`` would: the sync
call reaches the local HTTP server only in ``sync`` and ``dual``; in ``async`` the request it
would have sent is recorded in ``cutover.verify_results`` instead, and a dry run that times
out is recorded inconclusive; in ``events-only`` a stray sync call is recorded in
``cutover.blocked_calls`` and not sent. The outbox rows, routed to Kafka by a Debezium
connector, carry the write-time mode as the ``mode`` header. Two instances with their own
ids report their modes through heartbeats; the one stuck on a long cache is named by the
wait that ``advance`` runs.
"""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
import yaml
from confluent_kafka import Consumer, Message
from sqlalchemy import Engine, Integer, String, create_engine, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

import cutover
from cutover import (
    HeartbeatOptions,
    Migration,
    ModeSwitch,
    Outbox,
    RecordedRequest,
    SqlLedger,
    SyncCallBlocked,
    Verify,
)
from cutover.state.init import upgrade
from phases import commands
from phases.commands import CommandConfig
from phases.errors import InstancesLagging
from phases.fakes import fake_ports
from phases.instances import SqlInstanceReports, WaitOptions, wait_for_instances
from rehearsal.stack.endpoints import Endpoints
from tests.integration.cutover.test_outbox_sdk import (  # noqa: F401 - fixtures
    environ,
    headers,
    plan_path,
    routed_topic,
)
from tests.unit.phases.conftest import SAMPLE

pytestmark = pytest.mark.integration


class Downstream(BaseHTTPRequestHandler):
    """The notification service (no dry-run endpoint) and a slow quote service, on loopback."""

    received: list[tuple[str, Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/quote":
            time.sleep(1.5)
        Downstream.received.append((self.path, body))
        data = json.dumps({"sent": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def downstream() -> Iterator[str]:
    Downstream.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Downstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def consume(endpoints: Endpoints, topic: str, count: int, timeout_s: float = 60) -> list[Message]:
    consumer = Consumer(
        {
            "bootstrap.servers": endpoints.bootstrap_servers,
            "group.id": f"modes-it-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    messages: list[Message] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(messages) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error():
                messages.append(msg)
    finally:
        consumer.close()
    return messages


class Base(DeclarativeBase):
    pass


class Favorite(Base):
    """The test application's own table."""

    __tablename__ = "favorites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(String(100))
    reader: Mapped[str] = mapped_column(String(100))


def set_mode(engine: Engine, context: str, mode: str) -> None:
    """What ``phases`` does on a transition: one row in cutover's modes table."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO cutover.context_modes (context, mode) VALUES (:c, :m) "
                "ON CONFLICT (context) DO UPDATE SET mode = EXCLUDED.mode"
            ),
            {"c": context, "m": mode},
        )


class FavoriteApp:
    """The application: favouriting an article notifies its author (the sync call)."""

    def __init__(self, engine: Engine, plan: Path, notify_url: str) -> None:
        self.engine = engine
        self.notify_url = notify_url
        self.modes = ModeSwitch.from_engine(engine, ttl=0.0, heartbeats=False)
        self.outbox = Outbox.from_plan(plan, mode=self.modes.provider("favorite"))
        self.migration = Migration("favorite", self.modes, SqlLedger(engine), verify_timeout=0.3)

    def notify(self, slug: str, reader: str) -> int:
        reply = requests.post(self.notify_url, json={"slug": slug, "reader": reader}, timeout=5)
        return reply.status_code

    def favorite(
        self, slug: str, reader: str, verify: Verify | None = None
    ) -> cutover.Outcome[int]:
        body = {"slug": slug, "reader": reader}
        with Session(self.engine) as session, session.begin():
            session.add(Favorite(slug=slug, reader=reader))
            return self.migration.run(
                session,
                key=slug,
                operation="notify",
                sync=lambda: self.notify(slug, reader),
                events=lambda tx: self.outbox.emit(tx, "article", slug, "article.favorited", body),
                verify=verify
                or Verify(request=lambda: RecordedRequest("POST", self.notify_url, body)),
            )


def test_the_runner_in_each_mode_records_verify_runs_and_blocked_calls(
    endpoints: Endpoints,
    fresh_database: str,
    plan_path: Path,  # noqa: F811
    routed_topic: str,  # noqa: F811
    downstream: str,
) -> None:
    engine = create_engine(endpoints.database_url(fresh_database))
    try:
        upgrade(engine)
        Base.metadata.create_all(engine)
        app = FavoriteApp(engine, plan_path, f"{downstream}/notify")
        outcomes = {}
        for mode in ("sync", "dual", "async"):
            set_mode(engine, "favorite", mode)
            outcomes[mode] = app.favorite(f"{mode}-1", "ann")
        slow = Verify(
            dry_run=lambda: requests.post(
                f"{downstream}/quote", json={"dry": True}, timeout=5
            ).json()
        )
        timed_out = app.favorite("async-2", "bob", verify=slow)
        set_mode(engine, "favorite", "events-only")
        outcomes["events-only"] = app.favorite("events-only-1", "cy")
        with pytest.raises(SyncCallBlocked):
            app.migration.call_sync("notify", lambda: app.notify("events-only-1", "cy"), key="e")
    finally:
        engine.dispose()
    assert [(p, b["slug"]) for p, b in Downstream.received if p == "/notify"] == [
        ("/notify", "sync-1"),
        ("/notify", "dual-1"),
    ]
    assert (outcomes["sync"].value, outcomes["dual"].value, outcomes["async"].value) == (
        200,
        200,
        None,
    )
    assert timed_out.verify is not None and timed_out.verify.reason == "timeout after 0.3s"
    with psycopg.connect(endpoints.dsn(fresh_database)) as conn:
        favorites = [r[0] for r in conn.execute("select slug from favorites order by id")]
        written = conn.execute(
            "select stream_key, written_in from app.events_outbox order by at"
        ).fetchall()
        verified = conn.execute(
            "select business_key, operation, result, inconclusive from cutover.verify_results "
            "order by id"
        ).fetchall()
        blocked = conn.execute(
            "select context, operation, business_key from cutover.blocked_calls"
        ).fetchall()
    assert favorites == ["sync-1", "dual-1", "async-1", "async-2", "events-only-1"]
    assert written == [
        ("dual-1", "dual"),
        ("async-1", "async"),
        ("async-2", "async"),
        ("events-only-1", "events-only"),
    ]
    [(key, operation, recorded, inconclusive), (key2, _, late, inconclusive2)] = verified
    assert (key, operation, inconclusive) == ("async-1", "notify", False)
    assert recorded["form"] == "recorded-request"
    assert recorded["answer"] == {
        "method": "POST",
        "url": f"{downstream}/notify",
        "body": {"slug": "async-1", "reader": "ann"},
        "headers": {},
    }
    assert (key2, inconclusive2, late["reason"]) == ("async-2", True, "timeout after 0.3s")
    assert blocked == [("favorite", "notify", "e")]
    # the write-time mode reaches Kafka as the ``mode`` header
    messages = consume(endpoints, routed_topic, 4)
    assert {m.key(): headers(m)["mode"] for m in messages} == {
        b"dual-1": "dual",
        b"async-1": "async",
        b"async-2": "async",
        b"events-only-1": "events-only",
    }


def test_the_wait_names_the_instance_stuck_on_an_old_cached_mode(
    endpoints: Endpoints, fresh_database: str
) -> None:
    engine = create_engine(endpoints.database_url(fresh_database))
    upgrade(engine)
    set_mode(engine, "favorite", "dual")
    fresh = ModeSwitch.from_engine(
        engine, ttl=0.1, heartbeat=HeartbeatOptions(every=0.2, instance_id="app-fresh")
    ).start()
    stuck = ModeSwitch.from_engine(
        engine, ttl=3600, heartbeat=HeartbeatOptions(every=0.2, instance_id="app-stuck")
    ).start()
    try:
        time.sleep(0.5)
        set_mode(engine, "favorite", "async")
        started = time.monotonic()
        with pytest.raises(InstancesLagging) as err:
            wait_for_instances(
                SqlInstanceReports(engine),
                {"favorite": cutover.Mode.ASYNC},
                WaitOptions(timeout_s=2.0, live_within_s=5.0, poll_s=0.2),
            )
        assert 2.0 <= time.monotonic() - started < 4.0
        assert err.value.laggards == ["app-stuck: favorite dual (not async)"]
        assert err.value.live == 2
        stuck.stop()  # a clean exit forgets its row: nothing left to wait for
        assert (
            wait_for_instances(
                SqlInstanceReports(engine),
                {"favorite": cutover.Mode.ASYNC},
                WaitOptions(timeout_s=2.0, live_within_s=5.0, poll_s=0.2),
            )
            == 1
        )
    finally:
        fresh.stop()
        stuck.stop()
        engine.dispose()


def test_advance_waits_for_the_instances_then_names_the_stuck_one(
    endpoints: Endpoints, fresh_database: str, tmp_path: Path
) -> None:
    url = endpoints.database_url(fresh_database)
    engine = create_engine(url)
    upgrade(engine)  # cutover init
    plan = yaml.safe_load(SAMPLE.read_text())
    plan["system"]["database"]["url_env"] = "IT_APP_URL"
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(yaml.safe_dump(plan))
    out = io.StringIO()
    config = CommandConfig(
        plan_path=plan_file,
        reports_dir=tmp_path / "reports",
        actor="it@test",
        stdout=out,
        environ={"IT_APP_URL": url},
        ports_factory=lambda p, m: fake_ports(m),  # type: ignore[arg-type]
    )
    wait = WaitOptions(timeout_s=2.0, live_within_s=5.0, poll_s=0.2)
    instances = [
        ModeSwitch.from_engine(
            engine, ttl=ttl, heartbeat=HeartbeatOptions(every=0.2, instance_id=name)
        ).start()
        for name, ttl in (("app-fresh", 0.1), ("app-stuck", 3600.0))
    ]
    try:
        assert commands.advance(config, to=2, wait=wait) == 0  # every context stays sync
        started = time.monotonic()
        with pytest.raises(InstancesLagging) as err:
            commands.advance(config, to=3, wait=wait)  # every context to dual
        assert 2.0 <= time.monotonic() - started < 6.0
    finally:
        for instance in instances:
            instance.stop()
        engine.dispose()
    contexts = sorted(yaml.safe_load(plan_file.read_text())["contexts"])
    assert err.value.laggards == [
        "app-stuck: " + ", ".join(f"{c} sync (not dual)" for c in contexts)
    ]
    assert err.value.exit_code == 10
    printed = out.getvalue()
    assert "phase now 3" in printed
    assert "of 2 live instance(s) to run the new modes" in printed  # then only the stuck one
