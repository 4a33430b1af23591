"""The library knows no domain: no identifier of ``shadow/``, ``cdc/``, ``events/``, ``cutover/``,
``comparators/``, ``phases/`` or ``cutover_common/`` names the sample's (orders with stock,
payments and shipments).

Every module is parsed (``ast``, nothing imported) and each *identifier* checked: names,
attributes, function, class and argument names, imported names and their aliases, the module
of a ``from ... import``, keyword argument names, ``global``/``nonlocal`` and ``except ... as``
names. String literals, comments and docstrings are not identifiers: a docstring may say
"e.g. a payment service". The sample's order flow lives in ``legacy_app/orderflow`` and plugs in
through ``cutover.shadow`` like any team's handlers; its outcome record
(``legacy_app/outcome.py``), invariants (``legacy_app/invariants.py``) and contexts
(``legacy_app.modes.CONTEXTS``) are the sample's too, named from its plan.

Nor does any library module import ``rehearsal``, ``legacy_app`` or ``examples``
(:data:`NOT_IMPORTED`), not even inside a function: the local stack's addresses reach the
library as settings (:mod:`cutover_common.config`), passed by the rehearsal.

:data:`PENDING` exempts whole library files that still name the sample's domain, each with
the reason; it is empty now. The test fails when a listed file has become clean, so the list
only shrinks.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIBRARY: tuple[str, ...] = (
    "shadow",
    "cdc",
    "events",
    "cutover",
    "comparators",
    "phases",
    "cutover_common",
)
SAMPLE_WORDS = re.compile(
    r"sku|stock|payment|shipment|shipping|inventory|carrier|refund", re.IGNORECASE
)

NOT_IMPORTED = frozenset({"rehearsal", "legacy_app", "examples"})
"""Packages no library module imports, at its top or inside a function: a team installs
cutover without them (the local stack's addresses reach the library as settings,
:mod:`cutover_common.config`)."""

PENDING: dict[str, str] = {}
"""Library file -> why it still names the sample's domain (none left)."""


def identifiers(source: str) -> Iterator[tuple[int, str]]:
    """``(line, identifier)`` for every identifier of ``source`` (see the module docstring)."""
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        match node:
            case ast.Name(id=name) | ast.Attribute(attr=name) | ast.arg(arg=name):
                yield line, name
            case ast.FunctionDef(name=name) | ast.AsyncFunctionDef(name=name):
                yield line, name
            case ast.ClassDef(name=name) | ast.ExceptHandler(name=str() as name):
                yield line, name
            case ast.keyword(arg=str() as name) | ast.ImportFrom(module=str() as name):
                yield line, name
            case ast.alias(name=name, asname=asname):
                yield line, name
                if asname:
                    yield line, asname
            case ast.Global(names=names) | ast.Nonlocal(names=names):
                yield from ((line, n) for n in names)


def offences(path: Path) -> list[str]:
    """``file:line:identifier`` for each identifier of ``path`` naming the sample's domain."""
    rel = path.relative_to(ROOT).as_posix()
    return [
        f"{rel}:{line}:{name}"
        for line, name in identifiers(path.read_text(encoding="utf-8"))
        if SAMPLE_WORDS.search(name)
    ]


def library_modules() -> list[Path]:
    return sorted(p for pkg in LIBRARY for p in (ROOT / pkg).rglob("*.py"))


def test_no_library_identifier_names_the_samples_domain() -> None:
    found = [
        o
        for path in library_modules()
        if path.relative_to(ROOT).as_posix() not in PENDING
        for o in offences(path)
    ]
    assert found == [], "the sample's domain belongs in legacy_app/orderflow:\n" + "\n".join(found)


def test_each_pending_file_still_needs_its_exemption() -> None:
    stale = [rel for rel in PENDING if not (ROOT / rel).is_file() or not offences(ROOT / rel)]
    assert stale == [], "gone or clean now: drop from PENDING"


def test_every_library_package_is_checked() -> None:
    checked = {p.relative_to(ROOT).parts[0] for p in library_modules()}
    assert checked == set(LIBRARY)


def test_identifiers_are_checked_and_strings_comments_and_docstrings_are_not() -> None:
    source = '''
"""A stock docstring."""
import inventory_client as inv_alias
from shipping.api import carrier_for as pick
# a payment comment
class PaymentPort:
    """Charges a payment."""
    def refund(self, sku: str, *, stock=0) -> None:
        global shipments
        label = "shipment"
        call(payment_id=1)
        self.carrier.go()
        try:
            pass
        except Exception as stock_error:
            pass
'''
    names = sorted({name for _line, name in identifiers(source) if SAMPLE_WORDS.search(name)})
    assert names == [
        "PaymentPort",
        "carrier",
        "carrier_for",
        "inventory_client",
        "payment_id",
        "refund",
        "shipments",
        "shipping.api",
        "sku",
        "stock",
        "stock_error",
    ]


def test_an_offence_names_the_file_line_and_identifier() -> None:
    module = ROOT / "legacy_app" / "invariants.py"  # the sample's: it may name its domain
    line = next(
        n
        for n, text in enumerate(module.read_text().splitlines(), 1)
        if "def payment_captured_once" in text
    )
    assert f"legacy_app/invariants.py:{line}:payment_captured_once" in offences(module)


def imported_modules(source: str) -> Iterator[tuple[int, str]]:
    """``(line, module)`` for every import of ``source``, wherever it stands (a function's
    body too), and every ``importlib.import_module``/``__import__`` of a literal name."""
    for node in ast.walk(ast.parse(source)):
        match node:
            case ast.Import(names=names):
                yield from ((node.lineno, alias.name) for alias in names)
            case ast.ImportFrom(module=str() as module, level=0):
                yield node.lineno, module
            case ast.Call(
                func=ast.Name(id="__import__") | ast.Attribute(attr="import_module"),
                args=[ast.Constant(value=str() as module), *_],
            ):
                yield node.lineno, module


def forbidden_imports(path: Path) -> list[str]:
    """``file:line:module`` for each import of ``path`` of a package in :data:`NOT_IMPORTED`."""
    rel = path.relative_to(ROOT).as_posix()
    return [
        f"{rel}:{line}:{module}"
        for line, module in imported_modules(path.read_text(encoding="utf-8"))
        if module.partition(".")[0] in NOT_IMPORTED
    ]


def test_no_library_module_imports_the_rehearsal_or_a_sample() -> None:
    found = [o for path in library_modules() for o in forbidden_imports(path)]
    assert found == [], "read the setting from cutover_common.config instead:\n" + "\n".join(found)


def test_imports_inside_functions_and_by_name_are_caught() -> None:
    source = """
import json
from . import sibling
from cdc.client import ConnectClient

def default_url():
    from rehearsal.stack.topology import load_topology
    import legacy_app.models
    return importlib.import_module("examples.helpdesk"), __import__("rehearsal")
"""
    modules = [m for _line, m in imported_modules(source)]
    assert modules == [
        "json",
        "cdc.client",
        "rehearsal.stack.topology",
        "legacy_app.models",
        "examples.helpdesk",
        "rehearsal",
    ]
