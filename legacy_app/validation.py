"""Request bodies of the order service, validated with pydantic (the HTTP edge)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

MAX_LINES = 50
MAX_QTY = 1000

Sku = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]
Email = Annotated[
    str,
    StringConstraints(
        min_length=3, max_length=320, strip_whitespace=True, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    ),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class CustomerRequest(_Strict):
    """``POST /customers``."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    email: Email


class LineRequest(_Strict):
    sku: Sku
    qty: int = Field(gt=0, le=MAX_QTY)


class OrderRequest(_Strict):
    """``POST /orders``: who buys what and how they pay."""

    customer_id: Annotated[
        str, StringConstraints(min_length=1, max_length=36, strip_whitespace=True)
    ]
    items: list[LineRequest] = Field(min_length=1, max_length=MAX_LINES)
    payment_method: Literal["card", "card_declined"] = "card"

    @field_validator("items")
    @classmethod
    def _distinct_skus(cls, items: list[LineRequest]) -> list[LineRequest]:
        seen: set[str] = set()
        for line in items:
            if line.sku in seen:
                raise ValueError(f"sku {line.sku} appears more than once; merge the lines")
            seen.add(line.sku)
        return items


def reasons(exc: ValidationError) -> list[dict[str, Any]]:
    """pydantic errors as JSON-safe reasons (location, message, type; never the input value)."""
    return [
        {"loc": [str(p) for p in err["loc"]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]
