"""The library knows no domain: no identifier of ``shadow/``, ``cdc/``, ``events/`` or ``cutover/``
names the sample's (orders with stock, payments and shipments).

Every module is parsed (``ast``, nothing imported) and each *identifier* checked: names,
attributes, function, class and argument names, imported names and their aliases, the module
of a ``from ... import``, keyword argument names, ``global``/``nonlocal`` and ``except ... as``
names. String literals, comments and docstrings are not identifiers: a docstring may say
"e.g. a payment service". The sample's order flow lives in ``legacy_app/orderflow`` and plugs in
through ``cutover.shadow`` like any team's handlers.

:data:`PENDING` exempts whole files of ``events/`` only: the outcome record the comparators
still use (the sample's contracts now live beside it, ``legacy_app/contracts``, as msgspec
structs). The test fails when a listed file has become clean, so the list only shrinks.
``comparators/``, ``phases/`` and ``cutover_common/`` follow with the plan issue.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIBRARY: tuple[str, ...] = ("shadow", "cdc", "events", "cutover")
SAMPLE_WORDS = re.compile(
    r"sku|stock|payment|shipment|shipping|inventory|carrier|refund", re.IGNORECASE
)

PENDING: dict[str, str] = {
    "events/outcome.py": "comparators' outcome record: the plan issue (#16)",
}
"""File of ``events/`` -> why it still names the sample's domain."""


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


@pytest.mark.parametrize("rel", sorted(PENDING))
def test_each_pending_file_still_needs_its_exemption(rel: str) -> None:
    path = ROOT / rel
    assert path.is_file(), f"{rel} is gone: drop it from PENDING"
    assert offences(path), f"{rel} is clean now: drop it from PENDING"


def test_only_the_events_contracts_may_be_pending() -> None:
    assert all(rel.startswith("events/") for rel in PENDING)


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
    outcome = ROOT / "events" / "outcome.py"
    line = next(
        n for n, text in enumerate(outcome.read_text().splitlines(), 1) if "class Payment:" in text
    )
    assert f"events/outcome.py:{line}:Payment" in offences(outcome)
