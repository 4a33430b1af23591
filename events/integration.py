"""Integration events: facts published for other systems, with an explicit source and version.

Unlike domain events (internal to the sample's contexts), an integration event
is a public contract: its envelope always says which system produced it
(``source``) and which schema version its data follows (``dataversion``), and
old versions are upcast (see :mod:`events.upcasting`) rather than dropped.

``integration.customer.created`` v1 carried ``full_name``; v2 (current) calls
it ``name``, matching ``POST /customers``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

CUSTOMERS_SOURCE = "/legacy_app/customers"


@dataclass(frozen=True, slots=True)
class CustomerCreated:
    """A customer was registered."""

    type: ClassVar[str] = "integration.customer.created"
    version: ClassVar[int] = 2
    aggregate_type: ClassVar[str] = "customer"
    default_source: ClassVar[str] = CUSTOMERS_SOURCE

    customer_id: str
    name: str
    email: str

    @property
    def subject(self) -> str:
        return self.customer_id

    def to_dict(self) -> dict[str, Any]:
        return {"customer_id": str(self.customer_id), "name": self.name, "email": self.email}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CustomerCreated:
        return cls(str(data["customer_id"]), str(data["name"]), str(data["email"]))


def customer_created_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Upcaster: v1 ``full_name`` becomes v2 ``name``; everything else is kept."""
    out = {k: v for k, v in data.items() if k != "full_name"}
    out["name"] = data["full_name"]
    return out


INTEGRATION_EVENTS: tuple[type[Any], ...] = (CustomerCreated,)
