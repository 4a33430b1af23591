"""A team's contracts directory, written in a test's tmp_path (not the sample's domain)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FAVORITED_V1: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["article_id", "user"],
    "properties": {
        "article_id": {"type": "string", "minLength": 1},
        "user": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
}
FAVORITED_V2: dict[str, Any] = {
    **FAVORITED_V1,
    "properties": {
        **FAVORITED_V1["properties"],
        "source": {"type": "string", "enum": ["web", "app"]},
    },
}
UNFAVORITED_V1: dict[str, Any] = {
    "type": "object",
    "required": ["article_id"],
    "properties": {"article_id": {"type": "string"}},
}


def write_schema(directory: Path, name: str, schema: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(json.dumps(schema, indent=2) if not isinstance(schema, str) else schema)
    return path


def team_contracts(directory: Path) -> Path:
    """``article.favorited`` v1, v2 and ``article.unfavorited`` v1, all valid."""
    write_schema(directory, "article.favorited.v1.json", FAVORITED_V1)
    write_schema(directory, "article.favorited.v2.json", FAVORITED_V2)
    write_schema(directory, "article.unfavorited.v1.json", UNFAVORITED_V1)
    return directory


def rename_user(data: dict[str, Any]) -> dict[str, Any]:
    """Upcaster used by the tests' ``upcasters.toml``: v2 ``user`` becomes v3 ``user_id``."""
    out = {k: v for k, v in data.items() if k != "user"}
    out["user_id"] = data["user"]
    return out
