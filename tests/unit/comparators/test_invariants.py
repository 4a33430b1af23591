"""The invariant mechanism: a registry by bare name, ``module:function`` from the plan, and
the engine counting violations per side. The sample's invariants are tested with the sample
(tests/unit/legacy_app/test_invariants.py)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from comparators import invariants as inv
from comparators.diff import Scope, compare
from comparators.errors import UnknownInvariantError
from comparators.rules import CompareOptions
from legacy_app.outcome import Payment
from tests.unit.comparators.factories import LATER, obs, pair

CUSTOM = "tests.unit.comparators.test_invariants:always_broken"


def always_broken(records: Any) -> str | None:
    return "broken"


@pytest.fixture
def registered() -> Iterator[None]:
    inv.register("always_broken", always_broken)
    yield
    inv.REGISTERED.pop("always_broken")


def test_a_module_function_name_resolves_to_that_function() -> None:
    custom = inv.resolve(CUSTOM)
    assert (custom.name, custom.check([])) == (CUSTOM, "broken")


@pytest.mark.usefixtures("registered")
def test_a_registered_bare_name_resolves() -> None:
    assert inv.resolve("always_broken").check([]) == "broken"


def test_a_bare_name_nobody_registered_is_unknown() -> None:
    with pytest.raises(UnknownInvariantError):
        inv.resolve("payment_captured_once")  # the sample's: named by module in its plan


def test_engine_counts_violations_per_side() -> None:
    c, _ = pair(1)
    bad = obs(1, source="event", payment=Payment(Decimal("1.00"), "captured"))
    name = "legacy_app.invariants:payment_equals_total"
    result = compare(
        [c], [bad], CompareOptions(key="order_id"), Scope(now=LATER), inv.resolve_all([name])
    )
    assert dict(result.violations) == {f"{name}@candidate": 1}
    assert result.violation_samples[0].key == "ord-000001"
