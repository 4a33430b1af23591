"""The handler of docs/shadow-sdk.md is under 15 lines and works as written (in the harness)."""

from __future__ import annotations

import re
from pathlib import Path

from cutover.shadow import ShadowApp
from cutover.shadow_testing import ShadowHarness
from tests.unit.shadow.sdk.conftest import write_contracts

DOC = Path(__file__).resolve().parents[4] / "docs" / "shadow-sdk.md"


def first_example() -> str:
    found = re.search(r"```python\n(# myteam/shadow\.py\n.*?)```", DOC.read_text(), re.S)
    assert found is not None
    return found[1]


def test_the_documented_handler_is_under_15_lines() -> None:
    code = [line for line in first_example().splitlines() if line.strip()]
    assert len(code) < 15


def test_the_documented_handler_counts_favorites(tmp_path: Path) -> None:
    contracts = write_contracts(tmp_path / "contracts")
    namespace: dict[str, object] = {}
    exec(first_example().replace('"contracts/"', repr(str(contracts))), namespace)
    app = namespace["app"]
    assert isinstance(app, ShadowApp)
    h = ShadowHarness(app)
    for user in ("u1", "u2"):
        h.send("article.favorited", {"article_id": "a1", "user": user, "source": "web"}, key="a1")
    h.run()
    assert h.query("SELECT n FROM favorites_read") == [{"n": 2}]
