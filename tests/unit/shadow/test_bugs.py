"""The deliberately wrong handler of negative rehearsals changes exactly the totals it should."""

from __future__ import annotations

from decimal import Decimal

import pytest

from legacy_app.orderflow.bugs import TotalRoundingBug, with_bug
from legacy_app.orderflow.effects import RecordingEffects
from legacy_app.orderflow.processors import FlowProcessor
from shadow.errors import ShadowConfigError
from shadow.messages import InboundEvent


def _event(total: str) -> InboundEvent:
    payload = {
        "order_id": "o-1",
        "customer_id": "c-1",
        "customer_email": "a@example.com",
        "items": [{"sku": "SKU-0001", "qty": 1, "unit_price": total}],
        "total": total,
        "currency": "EUR",
        "payment_method": "card",
    }
    return InboundEvent("e-1", "order.created", "o-1", payload)


def test_total_rounding_bug_rounds_totals_with_cents_to_the_tenth() -> None:
    bug = TotalRoundingBug(FlowProcessor(RecordingEffects()))

    assert bug.parse(_event("42.55")).total == Decimal("42.6")
    assert bug.parse(_event("42.50")).total == Decimal("42.5")


def test_without_a_bug_the_processor_is_unchanged() -> None:
    flow = FlowProcessor(RecordingEffects())

    assert with_bug(flow, None) is flow
    assert flow.parse(_event("42.55")).total == Decimal("42.55")


def test_an_unknown_bug_is_a_config_error() -> None:
    with pytest.raises(ShadowConfigError, match="unknown bug"):
        with_bug(FlowProcessor(RecordingEffects()), "off_by_one")
