"""``emit``'s checks, which fail before any SQL runs, and the row it would write."""

from __future__ import annotations

import json
import math
import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, scoped_session, sessionmaker

import cutover
from cdc.outbox_table import OutboxColumns, OutboxLayout
from cutover import InvalidEvent, NotInTransaction, Outbox, UnsupportedConnection, emit
from cutover._drivers import psycopg_insert, sqlalchemy_insert

# Never connected: every check below fails before a connection is opened.
PG = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")


class Untouchable:
    """A target that fails the test if anything reaches it."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"emit touched the target ({name}) before validating")


def args(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "aggregate_type": "article",
        "aggregate_id": "a-1",
        "event_type": "article.published",
        "payload": {"slug": "a-1"},
    }
    return {**base, **kw}


@pytest.mark.parametrize(
    ("kw", "field", "reason"),
    [
        ({"payload": {"price": Decimal("1.50")}}, "payload", "not JSON-serialisable"),
        ({"payload": {"x": math.nan}}, "payload", "not JSON-serialisable"),
        ({"payload": {"at": object()}}, "payload", "not JSON-serialisable"),
        ({"payload": ["a", "list"]}, "payload", "must be a JSON object"),
        ({"payload": {"t": "nul\x00byte"}}, "payload", "NUL character"),
        ({"aggregate_id": ""}, "aggregate_id", "is empty"),
        ({"aggregate_id": "   "}, "aggregate_id", "is empty"),
        ({"aggregate_id": None}, "aggregate_id", "must be a str, int or UUID"),
        ({"aggregate_id": True}, "aggregate_id", "must be a str, int or UUID"),
        ({"aggregate_type": ""}, "aggregate_type", "is empty"),
        ({"event_type": ""}, "event_type", "is empty"),
        ({"aggregate_version": -1}, "aggregate_version", "is negative"),
        ({"aggregate_version": "3"}, "aggregate_version", "must be an int"),
        ({"correlation_id": 7}, "correlation_id", "must be a str or UUID"),
    ],
)
def test_bad_input_raises_before_touching_the_target(
    kw: dict[str, Any], field: str, reason: str
) -> None:
    with pytest.raises(InvalidEvent) as info:
        emit(Untouchable(), **args(**kw))
    assert info.value.field == field
    assert reason in str(info.value)


def test_an_invalid_event_exits_2_and_keeps_payload_values_out_of_the_message() -> None:
    with pytest.raises(InvalidEvent) as info:
        emit(Untouchable(), **args(payload={"card": "4111111111111111", "amount": Decimal(1)}))
    assert info.value.exit_code == 2
    assert "4111" not in str(info.value)


def test_a_literal_backslash_u0000_text_is_not_a_nul() -> None:
    row = Outbox().row(**args(payload={"t": "\\u0000"}))
    assert row["payload"] == '{"t":"\\\\u0000"}'


def test_an_unknown_target_is_unsupported() -> None:
    with pytest.raises(UnsupportedConnection, match=r"builtins\.dict"):
        emit({}, **args())


def test_a_session_that_has_begun_nothing_is_refused_before_connecting() -> None:
    with Session(PG) as session, pytest.raises(NotInTransaction, match="session is not in a"):
        emit(session, **args())


def test_a_scoped_session_is_checked_like_its_session() -> None:
    registry = scoped_session(sessionmaker(PG))
    try:
        with pytest.raises(NotInTransaction):
            emit(registry, **args())
    finally:
        registry.remove()


def test_a_connection_outside_a_transaction_is_refused() -> None:
    sqlite = create_engine("sqlite://")
    with sqlite.connect() as conn, pytest.raises(NotInTransaction, match="connection is not in"):
        emit(conn, **args())


def test_sqlite_is_written_for_an_applications_unit_tests() -> None:
    sqlite = create_engine("sqlite://")
    with sqlite.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE outbox (id TEXT, aggregatetype TEXT, aggregateid TEXT, type TEXT,"
            " payload TEXT, correlation_id TEXT, causation_id TEXT, aggregate_version INT,"
            " mode TEXT, created_at TEXT)"
        )
    with Session(sqlite) as session, session.begin():
        event_id = emit(session, **args())
    with sqlite.connect() as conn:
        rows = conn.exec_driver_sql("SELECT id, aggregate_version, payload FROM outbox").all()
    assert rows == [(str(event_id), 0, json.dumps(args()["payload"], separators=(",", ":")))]


def test_a_database_other_than_postgres_or_sqlite_is_unsupported() -> None:
    sqlite = create_engine("sqlite://")
    with (
        Session(sqlite) as session,
        session.begin(),
        pytest.raises(UnsupportedConnection, match="mysql"),
    ):
        session.connection().dialect.name = "mysql"
        emit(session, **args())


def test_the_row_defaults_version_0_and_no_ids() -> None:
    row = Outbox().row(**args())
    assert isinstance(row["id"], uuid.UUID)
    assert row["aggregate_version"] == 0
    assert row["correlation_id"] is None and row["causation_id"] is None
    assert row["mode"] is None
    assert row["payload"] == '{"slug":"a-1"}'
    assert list(row) == [
        "id",
        "aggregate_type",
        "aggregate_id",
        "event_type",
        "payload",
        "correlation_id",
        "causation_id",
        "aggregate_version",
        "mode",
    ]


def test_the_current_correlation_id_is_stamped_unless_one_is_given() -> None:
    with cutover.correlation_scope("req-1"):
        assert Outbox().row(**args())["correlation_id"] == "req-1"
        assert Outbox().row(**args(correlation_id="mine"))["correlation_id"] == "mine"
    assert Outbox().row(**args())["correlation_id"] is None


def test_the_mode_source_is_stamped_per_row() -> None:
    modes = iter(["dual", "async"])
    outbox = Outbox(mode=lambda: next(modes))
    assert [outbox.row(**args())["mode"] for _ in range(2)] == ["dual", "async"]


def test_ids_and_versions_are_normalised() -> None:
    cause = uuid.uuid4()
    row = Outbox().row(**args(aggregate_id=42, causation_id=cause, aggregate_version=3))
    assert (row["aggregate_id"], row["causation_id"], row["aggregate_version"]) == (
        "42",
        str(cause),
        3,
    )


def test_a_table_without_optional_columns_gets_no_such_values() -> None:
    layout = OutboxLayout(columns=OutboxColumns(correlation_id=None, mode=None, created_at=None))
    row = Outbox(layout, mode=lambda: "dual").row(**args(correlation_id="c"))
    assert "correlation_id" not in row and "mode" not in row


def test_insert_statements_use_the_layouts_names() -> None:
    layout = OutboxLayout("app.ev", OutboxColumns(id="event_id", payload="body", mode=None))
    assert psycopg_insert(layout) == (
        'INSERT INTO "app"."ev" ("event_id", "aggregatetype", "aggregateid", "type", "body", '
        '"correlation_id", "causation_id", "aggregate_version") '
        "VALUES (%s::uuid, %s, %s, %s, %s::jsonb, %s, %s, %s)"
    )
    assert "CAST(:payload AS jsonb)" in str(sqlalchemy_insert(layout))
    assert "CAST(:id AS uuid)" in str(sqlalchemy_insert(layout))


def test_configure_sets_the_process_default() -> None:
    before = cutover.default_outbox()
    custom = Outbox(OutboxLayout("app.ev"))
    try:
        cutover.configure(outbox=custom)
        assert cutover.default_outbox() is custom
    finally:
        cutover.configure(outbox=before)


def test_a_mode_source_returning_a_non_string_is_refused() -> None:
    outbox = Outbox(mode=lambda: 3)  # type: ignore[arg-type,return-value]
    with pytest.raises(InvalidEvent, match="mode from the mode source must be a str"):
        outbox.emit(Untouchable(), **args())
