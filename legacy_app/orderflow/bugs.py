"""Deliberately wrong handlers, for negative rehearsals only.

A migration tool must prove that its gates catch a wrong consumer. ``CUTOVER_SHADOW_BUG``
(or ``ShadowConfig.bug``) wraps the order flow in one of these; nothing else uses them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from cutover.shadow import InboundEvent, Processor, ShadowConfigError
from legacy_app.orderflow.domain import Order

TENTH = Decimal("0.1")


class TotalRoundingBug:
    """Rounds each order total to the tenth (half up), as a consumer doing money in floats
    or with the wrong precision would: totals with a non-zero cent digit come out wrong."""

    def __init__(self, inner: Processor) -> None:
        self.inner = inner
        self.name = inner.name
        self.entry_types = inner.entry_types
        self.known_types = inner.known_types
        self.supports_write_behind = inner.supports_write_behind

    def parse(self, event: InboundEvent) -> object:
        order = self.inner.parse(event)
        assert isinstance(order, Order)
        return dataclasses.replace(order, total=order.total.quantize(TENTH, rounding=ROUND_HALF_UP))

    def apply(
        self, event: InboundEvent, parsed: object, changes: Any, batch: Any, scope: object
    ) -> None:
        self.inner.apply(event, parsed, changes, batch, scope)

    def new_buffer(self) -> Any:
        return self.inner.new_buffer()

    def begin(
        self, tx: Any, todo: Sequence[tuple[InboundEvent, object]], *, locked: bool
    ) -> object:
        return self.inner.begin(tx, todo, locked=locked)

    def replayable(self, event: InboundEvent) -> bool:
        return self.inner.replayable(event)

    def expectation(self, scope: object) -> Mapping[str, Any]:
        return self.inner.expectation(scope)

    def confirm(self, tx: Any, expected: Mapping[str, Any]) -> None:
        self.inner.confirm(tx, expected)

    def remember(self, scope: object, batch: Any) -> None:
        self.inner.remember(scope, batch)

    def forget(self) -> None:
        self.inner.forget()


BUGS = {"total_rounding": TotalRoundingBug}


def with_bug(processor: Processor, bug: str | None) -> Processor:
    """``processor`` wrapped in the named bug (``None``: unchanged)."""
    if bug is None:
        return processor
    if bug not in BUGS:
        raise ShadowConfigError("bug", f"unknown bug {bug!r}; known: {sorted(BUGS)}")
    return BUGS[bug](processor)
