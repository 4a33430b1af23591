"""Outcome builders and hypothesis strategies shared by the comparator tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from comparators.diff import Observation, observation
from legacy_app.outcome import (
    Notification,
    Outcome,
    Payment,
    Reservation,
    ReservationLine,
    Shipment,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LATER = T0 + timedelta(days=1)


def outcome(
    i: int = 1,
    *,
    total: str = "23.75",
    source: str = "sync",
    at: datetime | None = None,
    status: str = "completed",
    email: str = "ann@example.com",
    **changes: Any,
) -> Outcome:
    """A completed order (or failed, with no effects) numbered ``i``."""
    amount = Decimal(total)
    base = Outcome(
        order_id=f"ord-{i:06d}",
        correlation_id=f"corr-{i}",
        status="completed",
        total=amount,
        reservation=Reservation((ReservationLine("SKU-0001", 2), ReservationLine("SKU-0003", 1))),
        payment=Payment(amount, "captured", 1),
        shipment=Shipment("standard", "created"),
        notifications=(Notification("order_confirmation", email),),
        produced_at=at or T0 + timedelta(seconds=i),
        source=source,  # type: ignore[arg-type]
    )
    if status == "failed":
        base = replace(
            base,
            status="failed",
            reservation=None,
            payment=None,
            shipment=None,
            notifications=(Notification("order_failed", email),),
        )
    return replace(base, **changes)


def record(i: int = 1, **kw: Any) -> dict[str, Any]:
    return outcome(i, **kw).to_dict()


def obs(i: int = 1, **kw: Any) -> Observation:
    return observation(record(i, **kw), key_field="order_id")


def pair(i: int, lag: float = 0.5, **candidate: Any) -> tuple[Observation, Observation]:
    at = T0 + timedelta(seconds=i)
    c = obs(i, at=at)
    kw = {"source": "event", "at": at + timedelta(seconds=lag), **candidate}
    return c, obs(i, **kw)


money = st.decimals(min_value=Decimal("0"), max_value=Decimal("9999.99"), places=2).map(str)
skus = st.sampled_from([f"SKU-{n:04d}" for n in range(1, 8)])


@st.composite
def outcome_records(draw: st.DrawFn, key: int | None = None) -> dict[str, Any]:
    """Random outcome records in ``to_dict`` form."""
    i = draw(st.integers(0, 500)) if key is None else key
    status = draw(st.sampled_from(["completed", "failed"]))
    lines = draw(
        st.lists(st.builds(ReservationLine, skus, st.integers(1, 5)), min_size=1, max_size=4)
    )
    total = Decimal(draw(money))
    email = draw(st.sampled_from(["ann@example.com", "Bob@Example.com", "c@x.io"]))
    rec = Outcome(
        order_id=f"ord-{i:06d}",
        correlation_id=f"corr-{i}",
        status=status,  # type: ignore[arg-type]
        total=total,
        reservation=Reservation(tuple(lines), draw(st.booleans())),
        payment=Payment(total, draw(st.sampled_from(["captured", "declined"])), 1),
        shipment=draw(st.none() | st.just(Shipment("express", "created"))),
        notifications=tuple(
            draw(
                st.lists(
                    st.builds(
                        Notification, st.sampled_from(["order_confirmation", "x"]), st.just(email)
                    ),
                    max_size=3,
                )
            )
        ),
        produced_at=T0 + timedelta(seconds=draw(st.integers(0, 3600))),
        source=draw(st.sampled_from(["sync", "event"])),  # type: ignore[arg-type]
    )
    return rec.to_dict()


@st.composite
def sides(draw: st.DrawFn, max_keys: int = 30) -> tuple[list[Observation], list[Observation]]:
    """Two key-sorted observation lists over a shared key space (some keys one-sided,
    some duplicated, some changed)."""
    keys = draw(st.lists(st.integers(0, 200), max_size=max_keys, unique=True))
    control: list[Observation] = []
    candidate: list[Observation] = []
    for k in sorted(keys, key=lambda n: f"ord-{n:06d}"):
        rec = draw(outcome_records(key=k))
        where = draw(st.sampled_from(["both", "both", "both", "control", "candidate"]))
        if where in ("both", "control"):
            control.extend(
                [observation(rec, key_field="order_id")] * draw(st.sampled_from([1, 1, 1, 2]))
            )
        if where in ("both", "candidate"):
            other = dict(rec)
            if draw(st.integers(0, 4)) == 0:
                other["total"] = str(Decimal(rec["total"]) + Decimal("0.01"))
            candidate.extend(
                [observation(other, key_field="order_id")] * draw(st.sampled_from([1, 1, 1, 2]))
            )
    return control, candidate
