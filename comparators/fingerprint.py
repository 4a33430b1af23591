"""Stable digests of records: the fast path of every comparison.

The digest is blake2b (128 bit) of the canonical JSON of a record after the
rules (sorted keys, no spaces). Values JSON does not know are converted by the
encoder's ``default`` hook exactly as :func:`comparators.values.to_jsonable`
converts them (decimals to canonical strings, times to UTC ISO 8601), so the
digest of a raw row equals the digest of its fully normalised form without
copying the parts no rule touches. Equal digests mean equal normalised records;
unequal digests send the pair to :func:`comparators.explain.explain`, which has
the last word.
"""

from __future__ import annotations

import json
from hashlib import blake2b
from typing import Any

DIGEST_SIZE = 16


def _default(value: Any) -> Any:
    from comparators.values import to_jsonable

    converted = to_jsonable(value)
    if converted is value:
        return str(value)
    return converted


_ENCODER = json.JSONEncoder(
    sort_keys=True,
    separators=(",", ":"),
    ensure_ascii=False,
    default=_default,
    check_circular=False,
)


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, other values as :func:`to_jsonable` makes them."""
    return _ENCODER.encode(value)


def digest(value: Any) -> bytes:
    """blake2b (128 bit) of the canonical JSON of ``value``."""
    return blake2b(
        canonical_json(value).encode("utf-8", "surrogatepass"), digest_size=DIGEST_SIZE
    ).digest()
