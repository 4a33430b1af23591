"""Deliberately wrong handlers, for negative rehearsals only.

A migration tool must prove that its gates catch a wrong consumer. ``CUTOVER_SHADOW_BUG``
(or ``ShadowConfig.bug``) wraps the order flow in one of these; nothing else uses them.
"""

from __future__ import annotations

import dataclasses
from decimal import ROUND_HALF_UP, Decimal

from shadow.domain import Order
from shadow.effects import Recorder
from shadow.errors import ShadowConfigError
from shadow.messages import InboundEvent
from shadow.processors import Processor

TENTH = Decimal("0.1")


class TotalRoundingBug:
    """Rounds each order total to the tenth (half up), as a consumer doing money in floats
    or with the wrong precision would: totals with a non-zero cent digit come out wrong."""

    def __init__(self, inner: Processor) -> None:
        self.inner = inner
        self.name = inner.name
        self.entry_types = inner.entry_types

    def parse(self, event: InboundEvent) -> Order:
        order = self.inner.parse(event)
        return dataclasses.replace(order, total=order.total.quantize(TENTH, rounding=ROUND_HALF_UP))

    def apply(self, event: InboundEvent, order: Order, rec: Recorder) -> None:
        self.inner.apply(event, order, rec)


BUGS = {"total_rounding": TotalRoundingBug}


def with_bug(processor: Processor, bug: str | None) -> Processor:
    """``processor`` wrapped in the named bug (``None``: unchanged)."""
    if bug is None:
        return processor
    if bug not in BUGS:
        raise ShadowConfigError("bug", f"unknown bug {bug!r}; known: {sorted(BUGS)}")
    return BUGS[bug](processor)
