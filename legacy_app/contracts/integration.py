"""Integration events: facts published for other systems, with an explicit source and version.

Unlike domain events (internal to the sample's contexts), an integration event is a public
contract: its envelope always says which system produced it (``source``) and which schema
version its data follows (``dataversion``), and old versions are upcast rather than dropped
(``upcasters.toml`` names :func:`customer_created_v1_to_v2`).

``integration.customer.created`` v1 carried ``full_name``; v2 (current) calls it ``name``,
matching ``POST /customers``. v1's schema is a committed file, no longer generated.
"""

from __future__ import annotations

from typing import Any

from cutover.contracts import Contract
from legacy_app.contracts.values import Email, Id, Text

CUSTOMERS_SOURCE = "/legacy_app/customers"


class CustomerCreated(Contract, frozen=True):
    """A customer was registered."""

    type = "integration.customer.created"
    version = 2
    aggregate_type = "customer"
    subject_field = "customer_id"
    default_source = CUSTOMERS_SOURCE

    customer_id: Id
    name: Text
    email: Email


def customer_created_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Upcaster: v1 ``full_name`` becomes v2 ``name``; everything else is kept."""
    out = {k: v for k, v in data.items() if k != "full_name"}
    out["name"] = data["full_name"]
    return out


INTEGRATION_EVENTS: tuple[type[Contract], ...] = (CustomerCreated,)
