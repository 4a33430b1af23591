"""The sample reaches cutover through the public surface only (``cutover.PUBLIC_MODULES``).

Every module of ``legacy_app`` is parsed (``ast``, nothing imported from it) and each import
classified: the standard library, third-party packages and ``legacy_app.*`` are allowed; of
cutover only ``import cutover``, ``from cutover import <name in cutover.__all__>`` and the
documented public modules (``cutover.errors``, ``cutover.flask``, ``cutover.shadow``). Any other ``cutover.*``
module, ``cutover_common`` and the library packages (``events``, ``cdc``, ``shadow``,
``comparators``, ``phases``) and ``rehearsal`` are forbidden.

:data:`PENDING` is the one exception, listed exactly: the order service still wraps its
events in ``events.envelope.Envelope``. The outcome record is the sample's own
(``legacy_app/outcome.py``). The sample's contracts are its own
(``legacy_app/contracts``, structs on ``cutover.contracts``). The test fails when a
module imports anything else of them, and when an entry is no longer needed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import cutover

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "legacy_app"
FORBIDDEN_PACKAGES = frozenset(
    {"cutover_common", "events", "cdc", "shadow", "comparators", "phases", "rehearsal"}
)

PENDING: dict[str, frozenset[str]] = {
    # module of legacy_app -> the events.* imports it still makes: the envelope the order
    # service wraps its events in before cutover.emit
    "legacy_app/outbox.py": frozenset({"events.envelope.Envelope"}),
    "legacy_app/placing.py": frozenset({"events.envelope.Envelope"}),
}


def imports_of(source: str) -> Iterator[str]:
    """Every name ``source`` imports, dotted: ``a.b`` for ``import a.b``, ``a.b.c`` for
    ``from a.b import c`` (relative imports as ``legacy_app``'s own)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = "legacy_app" if node.level else (node.module or "")
            yield from (f"{module}.{alias.name}" for alias in node.names)


def violation(name: str) -> str | None:
    """Why importing ``name`` reaches cutover past its public surface, or None."""
    top, _, rest = name.partition(".")
    if top in FORBIDDEN_PACKAGES:
        return f"{top} is not cutover's public surface"
    if top != "cutover" or not rest:
        return None
    if name in cutover.PUBLIC_MODULES:
        return None
    if rest in cutover.__all__:
        return None  # from cutover import <public name>
    module = name.rsplit(".", 1)[0]
    if module in cutover.PUBLIC_MODULES and module != "cutover":
        return None  # from cutover.errors import X
    return f"{name} is not in cutover.__all__ nor a public module {cutover.PUBLIC_MODULES}"


def sample_imports() -> dict[str, list[str]]:
    return {
        str(path.relative_to(ROOT)): sorted(set(imports_of(path.read_text())))
        for path in sorted(SAMPLE.rglob("*.py"))
    }


def test_the_sample_imports_cutover_only_through_its_public_surface() -> None:
    found: dict[str, set[str]] = {}
    wrong: list[str] = []
    for module, names in sample_imports().items():
        for name in names:
            reason = violation(name)
            if reason is None:
                continue
            if name in PENDING.get(module, frozenset()):
                found.setdefault(module, set()).add(name)
            else:
                wrong.append(f"{module}: {name} ({reason})")
    assert wrong == []
    assert found == {m: set(n) for m, n in PENDING.items()}, "PENDING lists more than is left"


def test_the_sample_uses_the_public_sdk() -> None:
    used = {n for names in sample_imports().values() for n in names}
    assert {"cutover", "cutover.Mode"} <= used


@pytest.mark.parametrize(
    ("name", "allowed"),
    [
        ("cutover", True),
        ("cutover.emit", True),
        ("cutover.ModeSwitch", True),
        ("cutover.flask", True),
        ("cutover.errors.SdkError", True),
        ("cutover.flask.init_app", True),
        ("cutover.state.models.VerifyResultRow", False),
        ("cutover.state", False),
        ("cutover.runner.Migration", False),
        ("cutover._drivers", False),
        ("cutover_common.modes.Mode", False),
        ("events.envelope.Envelope", False),
        ("phases.plan", False),
        ("rehearsal.stack.topology.load_topology", False),
        ("shadow", False),
        ("json", True),
        ("sqlalchemy.orm.Session", True),
        ("legacy_app.models.Order", True),
    ],
)
def test_each_kind_of_import_is_classified(name: str, allowed: bool) -> None:
    assert (violation(name) is None) is allowed


def test_a_module_with_a_private_import_is_caught() -> None:
    source = "import cutover\nfrom cutover.state.naming import bind\nfrom . import models\n"
    names = list(imports_of(source))
    assert names == ["cutover", "cutover.state.naming.bind", "legacy_app.models"]
    assert [n for n in names if violation(n)] == ["cutover.state.naming.bind"]
