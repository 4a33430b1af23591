"""One contract, two adapters: the in-memory fakes and the HTTP adapters + real service code.

Each test states a rule of the downstream services; the subclasses run it
against :mod:`legacy_app.fakes` and against the HTTP adapters wired in-process
to the Flask services on SQLite, proving the fakes behave like the real thing.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from legacy_app.contracts.values import StockLine
from legacy_app.downstream import Call, Downstreams
from legacy_app.fakes import fake_downstreams
from tests.unit.legacy_app.inprocess import inprocess_downstreams

CALL = Call("order-1", "corr-1")
LINES = (StockLine("SKU-0002", 2), StockLine("SKU-0001", 1))


class DownstreamContract:
    @pytest.fixture
    def ports(self, db_url: str) -> Downstreams:
        raise NotImplementedError

    def test_reserve_answers_lines_sorted_by_sku(self, ports: Downstreams) -> None:
        answer = ports.inventory.reserve(CALL, LINES)
        assert answer.status == "reserved"
        assert answer.lines == (StockLine("SKU-0001", 1), StockLine("SKU-0002", 2))

    def test_reserve_is_idempotent(self, ports: Downstreams) -> None:
        first = ports.inventory.reserve(CALL, LINES)
        assert ports.inventory.reserve(CALL, LINES) == first

    def test_short_line_rejects_the_whole_reservation(self, ports: Downstreams) -> None:
        answer = ports.inventory.reserve(
            CALL, (StockLine("SKU-0001", 1), StockLine("SKU-OOS-1", 1))
        )
        assert (answer.status, answer.lines, answer.reason) == (
            "rejected",
            (),
            "out_of_stock:SKU-OOS-1",
        )
        assert ports.inventory.release(CALL, ()).status == "none"

    def test_release_after_reserve_then_nothing_left(self, ports: Downstreams) -> None:
        ports.inventory.reserve(CALL, LINES)
        assert ports.inventory.release(CALL, LINES).status == "released"
        assert ports.inventory.release(CALL, LINES).status == "none"

    def test_verify_reserve_then_real_reserve(self, ports: Downstreams) -> None:
        assert ports.inventory.reserve(CALL, LINES, verify=True).status == "reserved"
        assert ports.inventory.release(CALL, LINES).status == "none"  # verify reserved nothing

    def test_verify_release_without_reservation_would_release_the_lines(
        self, ports: Downstreams
    ) -> None:
        assert ports.inventory.release(CALL, LINES, verify=True).status == "released"

    @pytest.mark.parametrize(
        ("method", "status"), [("card", "captured"), ("card_declined", "declined")]
    )
    def test_charge_rule(self, ports: Downstreams, method: str, status: str) -> None:
        answer = ports.payment.charge(CALL, Decimal("12.50"), method)
        assert (answer.status, answer.amount) == (status, Decimal("12.50"))

    def test_charge_retry_returns_the_first_answer(self, ports: Downstreams) -> None:
        ports.payment.charge(CALL, Decimal("12.50"), "card")
        assert ports.payment.charge(CALL, Decimal("99.00"), "card").amount == Decimal("12.50")

    def test_refund_only_after_capture(self, ports: Downstreams) -> None:
        assert ports.payment.refund(CALL, Decimal("5.00")).status == "none"
        ports.payment.charge(CALL, Decimal("5.00"), "card")
        assert ports.payment.refund(CALL, Decimal("5.00")).status == "refunded"
        assert ports.payment.refund(CALL, Decimal("5.00")).status == "none"

    def test_verify_charge_commits_nothing(self, ports: Downstreams) -> None:
        assert ports.payment.charge(CALL, Decimal("5.00"), "card", verify=True).status == "captured"
        assert ports.payment.charge(CALL, Decimal("5.00"), "card_declined").status == "declined"

    @pytest.mark.parametrize(("total", "carrier"), [("99.99", "standard"), ("100.00", "express")])
    def test_carrier(self, ports: Downstreams, total: str, carrier: str) -> None:
        assert ports.shipping.ship(CALL, Decimal(total), verify=True).carrier == carrier
        assert ports.shipping.ship(CALL, Decimal(total)).carrier == carrier

    def test_notify_echoes_template_and_recipient(self, ports: Downstreams) -> None:
        answer = ports.email.notify(CALL, "order_confirmation", "a@b.co")
        assert (answer.template, answer.recipient) == ("order_confirmation", "a@b.co")


class TestFakes(DownstreamContract):
    @pytest.fixture
    def ports(self, db_url: str) -> Downstreams:
        return fake_downstreams()[0]


class TestHttpAdaptersAndServices(DownstreamContract):
    @pytest.fixture
    def ports(self, db_url: str) -> Downstreams:
        return inprocess_downstreams(db_url)
