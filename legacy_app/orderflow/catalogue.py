"""The sample catalogue's initial stock, seeded into ``shadow.stock``.

It mirrors ``legacy_app.seed`` (the shared domain contract) without importing
the monolith: ``SKU-0001``..``SKU-0050`` with 1,000,000 units each and
``SKU-OOS-1``..``SKU-OOS-3`` with none, so out-of-stock orders are deterministic.
"""

from __future__ import annotations

IN_STOCK = 1_000_000


def initial_stock() -> dict[str, int]:
    """SKU -> units available before any order."""
    stock = {f"SKU-{n:04d}": IN_STOCK for n in range(1, 51)}
    stock.update({f"SKU-OOS-{n}": 0 for n in range(1, 4)})
    return stock
