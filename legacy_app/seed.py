"""The sample catalogue, seeded idempotently (the shared domain contract).

``SKU-0001``..``SKU-0050``: price 5.00 + 1.25*n, stock 1,000,000.
``SKU-OOS-1``..``SKU-OOS-3``: price 9.99, stock 0 (always out of stock).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from legacy_app.models import InventoryStock, Product

IN_STOCK = 1_000_000


@dataclass(frozen=True, slots=True)
class CatalogueItem:
    """One product of the seed: its price and initial stock."""

    sku: str
    name: str
    price: Decimal
    stock: int


def catalogue() -> tuple[CatalogueItem, ...]:
    """Every product of the sample catalogue, in SKU order."""
    regular = tuple(
        CatalogueItem(
            f"SKU-{n:04d}", f"Product {n}", Decimal("5.00") + Decimal("1.25") * n, IN_STOCK
        )
        for n in range(1, 51)
    )
    out_of_stock = tuple(
        CatalogueItem(f"SKU-OOS-{n}", f"Unobtainable {n}", Decimal("9.99"), 0) for n in range(1, 4)
    )
    return regular + out_of_stock


def seed_catalogue(engine: Engine) -> int:
    """Insert the missing products and stock rows; existing rows are left alone. Returns inserts."""
    inserted = 0
    with Session(engine) as session, session.begin():
        known = set(session.scalars(select(Product.sku)))
        stocked = set(session.scalars(select(InventoryStock.sku)))
        for item in catalogue():
            if item.sku not in known:
                session.add(Product(sku=item.sku, name=item.name, price=item.price))
                inserted += 1
            if item.sku not in stocked:
                session.add(InventoryStock(sku=item.sku, on_hand=item.stock))
    return inserted
