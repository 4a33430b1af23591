"""A team's shadow app, written as a team would (not the sample's domain), and its contracts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cutover.shadow import Event, Handle, ShadowApp

READ_MODEL = (
    "CREATE TABLE IF NOT EXISTS favorites_read ("
    "article_id varchar(64) PRIMARY KEY, n integer NOT NULL)"
)
COUNT = (
    "INSERT INTO favorites_read (article_id, n) VALUES (:id, 1) "
    "ON CONFLICT (article_id) DO UPDATE SET n = favorites_read.n + 1"
)

FAVORITED_V1: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["article_id", "user"],
    "properties": {"article_id": {"type": "string", "minLength": 1}, "user": {"type": "string"}},
}
FAVORITED_V2: dict[str, Any] = {
    **FAVORITED_V1,
    "required": ["article_id", "user", "source"],
    "properties": {**FAVORITED_V1["properties"], "source": {"type": "string"}},
    "x-cutover-breaking": "source is required",
}
UNFAVORITED_V1: dict[str, Any] = {
    "type": "object",
    "required": ["article_id"],
    "properties": {"article_id": {"type": "string"}},
}


def add_source(data: dict[str, Any]) -> dict[str, Any]:
    """The contracts' upcaster: v1 favorites came from the web."""
    return {**data, "source": "web"}


def write_contracts(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, schema in (
        ("article.favorited.v1.json", FAVORITED_V1),
        ("article.favorited.v2.json", FAVORITED_V2),
        ("article.unfavorited.v1.json", UNFAVORITED_V1),
    ):
        (directory / name).write_text(json.dumps(schema))
    (directory / "upcasters.toml").write_text(
        '[upcasters."article.favorited"]\n1 = "tests.unit.shadow.sdk.conftest:add_source"\n'
    )
    return directory


@pytest.fixture
def contracts(tmp_path: Path) -> Path:
    return write_contracts(tmp_path / "contracts")


def favorites_app(**kwargs: Any) -> ShadowApp:
    """The team's app: a read model counting favorites per article."""
    app = ShadowApp("favorites", tables=[READ_MODEL], **kwargs)

    @app.handler("article.favorited")
    def favorited(event: Event, tx: Handle) -> None:
        tx.execute(COUNT, {"id": event.payload["article_id"]})

    return app


def favorite(article: str = "a1", user: str = "u1", **extra: Any) -> dict[str, Any]:
    return {"article_id": article, "user": user, **extra}
