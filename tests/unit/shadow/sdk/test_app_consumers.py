"""What ``cutover shadow run --app`` builds from an app: its consumers, checked up front."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from cutover.shadow import Consumer, Event, Handle, ShadowApp, WorkerContext
from cutover.shadow_testing import ShadowHarness
from events.errors import ContractDirectoryInvalid
from shadow.app import AppProcessor, app_consumers, handler_consumer
from shadow.app_store import AppStore
from shadow.errors import ShadowConfigError
from tests.unit.shadow.sdk.conftest import favorite, favorites_app

CTX = WorkerContext("host=nowhere dbname=x", "team_app", "dual")


def test_the_handler_consumer_runs_the_apps_handlers_on_its_schema() -> None:
    consumer = handler_consumer(favorites_app(), CTX)
    assert isinstance(consumer.processor, AppProcessor)
    assert isinstance(consumer.store, AppStore)
    assert (consumer.processor.name, consumer.store.schema, consumer.writer) == (
        "favorites", "team_app", None,
    )  # fmt: skip
    assert consumer.processor.entry_types == {"article.favorited"}
    assert consumer.processor.supports_write_behind is False


def test_app_consumers_lists_the_handlers_then_each_advanced_consumer() -> None:
    app = favorites_app()
    advanced = Consumer(processor="p", store="s")

    @app.consumer("audit")
    def audit(ctx: WorkerContext) -> Consumer:
        return advanced

    found = app_consumers(app, CTX)
    assert [name for name, _ in found] == ["favorites", "audit"]
    assert found[1][1] is advanced


def test_a_handled_type_without_a_contract_is_refused_at_start(contracts: Path) -> None:
    app = favorites_app(contracts=contracts)

    @app.handler("article.shared")
    def shared(event: Event, tx: Handle) -> None:
        return None

    with pytest.raises(ShadowConfigError) as info:
        handler_consumer(app, CTX)
    assert "article.shared" in str(info.value) and "\n" not in str(info.value)


def test_a_contracts_directory_with_a_bad_schema_is_one_line_naming_the_file(
    tmp_path: Path,
) -> None:
    (tmp_path / "article.favorited.v1.json").write_text('{"type": "object", "required": 3}')
    with pytest.raises(ContractDirectoryInvalid) as info:
        ShadowHarness(favorites_app(contracts=tmp_path))
    message = str(info.value)
    assert "article.favorited.v1.json" in message and "\n" not in message


def test_a_timeout_outside_the_main_thread_is_found_when_the_handler_returns() -> None:
    app = ShadowApp("favorites")
    h: ShadowHarness

    @app.handler("article.favorited", timeout=1.0)
    def favorited(event: Event, tx: Handle) -> None:
        h.clock.advance(2.0)

    h = ShadowHarness(app, real_timeouts=True)
    h.send("article.favorited", favorite(), key="a1")
    runner = threading.Thread(target=h.run)
    runner.start()
    runner.join()
    assert ["timeout after 1s" in d.reason for d in h.dead_letters()] == [True]
