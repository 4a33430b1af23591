"""Nothing under ``examples/`` reaches cutover past its public surface, nor the sample.

Every module is parsed (``ast``, nothing imported); the rules are
``tests/unit/test_public_surface_only.py``'s, plus: no ``legacy_app`` at all (nor its shadow
plug-in), and no other example (each example stands alone).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.test_public_surface_only import violation

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"


def imports_of(path: Path) -> Iterator[str]:
    package = ".".join(path.relative_to(ROOT).parent.parts)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = package if node.level else (node.module or "")
            yield from (f"{module}.{alias.name}" for alias in node.names)


def why_not(name: str, example: str) -> str | None:
    top = name.partition(".")[0]
    if top == "legacy_app":
        return "the sample is not an example's to import"
    if top == "examples" and name != "examples" and not name.startswith(f"examples.{example}"):
        return "another example"
    return violation(name)


def example_modules() -> list[Path]:
    return sorted(EXAMPLES.rglob("*.py"))


def test_there_is_an_example_to_check() -> None:
    assert EXAMPLES / "helpdesk" / "app.py" in example_modules()


@pytest.mark.parametrize("path", example_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_each_example_module_imports_only_the_public_surface(path: Path) -> None:
    parts = path.relative_to(EXAMPLES).parts
    example = parts[0] if len(parts) > 1 else ""
    wrong = [f"{n}: {r}" for n in imports_of(path) if (r := why_not(n, example))]
    assert wrong == []


@pytest.mark.parametrize(
    ("name", "allowed"),
    [
        ("cutover.Migration", True),
        ("cutover.shadow.ShadowApp", True),
        ("cutover.shadow_testing.ShadowHarness", True),
        ("legacy_app.models.Order", False),
        ("legacy_app.orderflow.app", False),
        ("examples.helpdesk.rules.notice_for", True),
        ("examples.other.thing", False),
        ("cutover.runner.Migration", False),
        ("events.registry.ContractRegistry", False),
        ("phases.plan.load_plan", False),
    ],
)
def test_each_kind_of_import_is_classified(name: str, allowed: bool) -> None:
    assert (why_not(name, "helpdesk") is None) is allowed
