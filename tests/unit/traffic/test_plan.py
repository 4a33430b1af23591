from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rehearsal.traffic import (
    CATALOGUE_SKUS,
    OUT_OF_STOCK_SKUS,
    Kind,
    Malformation,
    TrafficError,
    TrafficMix,
    plan_requests,
)


def test_same_seed_gives_the_same_plan() -> None:
    assert plan_requests(42, 300) == plan_requests(42, 300)


def test_different_seeds_give_different_plans() -> None:
    assert plan_requests(1, 100) != plan_requests(2, 100)


def test_run_id_changes_only_emails_and_correlation_ids() -> None:
    a, b = plan_requests(7, 50, run_id="a"), plan_requests(7, 50, run_id="b")
    assert [r.kind for r in a] == [r.kind for r in b]
    assert [r.path for r in a] == [r.path for r in b]
    assert {r.correlation_id for r in a}.isdisjoint({r.correlation_id for r in b})


def test_first_requests_create_customers() -> None:
    plan = plan_requests(3, 10, initial_customers=3)
    assert [r.kind for r in plan[:3]] == [Kind.NEW_CUSTOMER] * 3
    assert all(r.path == "/customers" and r.expect == "2xx" for r in plan[:3])
    assert set(plan[0].body) == {"name", "email"}


def test_correlation_ids_are_unique_and_header_safe() -> None:
    plan = plan_requests(5, 500)
    ids = [r.correlation_id for r in plan]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 36 for i in ids)


def test_orders_reference_earlier_customers() -> None:
    plan = plan_requests(11, 400)
    customers = {r.index for r in plan if r.kind is Kind.NEW_CUSTOMER}
    refs = [r for r in plan if r.customer_ref is not None]
    assert refs
    assert all(r.customer_ref in customers and r.customer_ref < r.index for r in refs)


def test_valid_orders_have_one_to_five_catalogue_lines() -> None:
    for r in plan_requests(13, 400):
        if r.kind is Kind.ORDER:
            assert 1 <= len(r.body["items"]) <= 5
            assert all(x["sku"] in CATALOGUE_SKUS and 1 <= x["qty"] <= 5 for x in r.body["items"])
            assert len({x["sku"] for x in r.body["items"]}) == len(r.body["items"])
            assert r.body["payment_method"] == "card"


def test_declined_and_out_of_stock_orders() -> None:
    plan = plan_requests(17, 400)
    declined = [r for r in plan if r.kind is Kind.DECLINED_PAYMENT]
    oos = [r for r in plan if r.kind is Kind.OUT_OF_STOCK]
    assert declined and oos
    assert all(r.body["payment_method"] == "card_declined" and r.expect == "2xx" for r in declined)
    assert all(any(x["sku"] in OUT_OF_STOCK_SKUS for x in r.body["items"]) for r in oos)


def test_mix_weights_shape_the_plan() -> None:
    plan = plan_requests(
        19,
        2000,
        TrafficMix(new_customer=0, order=50, declined_payment=0, out_of_stock=0, malformed=50),
    )
    counts = Counter(r.kind for r in plan[3:])
    assert set(counts) == {Kind.ORDER, Kind.MALFORMED}
    assert 0.4 < counts[Kind.MALFORMED] / sum(counts.values()) < 0.6


def test_every_malformation_appears_and_expects_4xx() -> None:
    malformed = [r for r in plan_requests(23, 3000) if r.kind is Kind.MALFORMED]
    assert {r.malformation for r in malformed} == set(Malformation)
    assert all(r.expect == "4xx" and r.label.startswith("malformed:") for r in malformed)


def _by(how: Malformation) -> list:  # type: ignore[type-arg]
    return [r for r in plan_requests(29, 3000) if r.malformation is how]


def test_invalid_json_bodies_do_not_parse() -> None:
    for r in _by(Malformation.INVALID_JSON):
        with pytest.raises(ValueError):
            json.loads(r.render("c-1"))


def test_oversized_bodies_exceed_the_limit() -> None:
    for r in _by(Malformation.OVERSIZED_BODY)[:3]:
        assert len(r.render("c-1")) > 256 * 1024


def test_negative_qty_unknown_sku_missing_and_wrong_types() -> None:
    assert all(
        any(x["qty"] < 0 for x in json.loads(r.render("c"))["items"])
        for r in _by(Malformation.NEGATIVE_QTY)
    )
    assert all(
        any(x["sku"] not in CATALOGUE_SKUS for x in json.loads(r.render("c"))["items"])
        for r in _by(Malformation.UNKNOWN_SKU)
    )
    for r in _by(Malformation.MISSING_FIELDS):
        body = json.loads(r.render("c"))
        assert (
            not {"customer_id", "items"} <= set(body)
            if r.path == "/orders"
            else "email" not in body
        )
    for r in _by(Malformation.WRONG_TYPES):
        body = json.loads(r.render("c"))
        wrong = (
            not isinstance(body["items"], list)
            or body["payment_method"] not in ("card", "card_declined")
            or any(not isinstance(x["qty"], int) for x in body["items"])
        )
        assert wrong


def test_render_fills_the_customer_id() -> None:
    order = next(r for r in plan_requests(31, 50) if r.kind is Kind.ORDER)
    assert json.loads(order.render("c-42"))["customer_id"] == "c-42"


def test_mix_parse() -> None:
    mix = TrafficMix.parse("order=1, declined=2,oos=3,malformed=0")
    assert (mix.order, mix.declined_payment, mix.out_of_stock, mix.malformed, mix.new_customer) == (
        1,
        2,
        3,
        0,
        10,
    )


@pytest.mark.parametrize(
    "text",
    [
        "order",
        "bogus=1",
        "order=x",
        "order=-1",
        "new_customer=0,order=0,declined=0,oos=0,malformed=0",
    ],
)
def test_bad_mix_is_a_traffic_error(text: str) -> None:
    with pytest.raises(TrafficError):
        TrafficMix.parse(text)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32), st.integers(0, 60))
def test_plan_is_a_pure_function_of_its_inputs(seed: int, count: int) -> None:
    plan = plan_requests(seed, count)
    assert len(plan) == count
    assert [r.index for r in plan] == list(range(count))
    assert plan == plan_requests(seed, count)
