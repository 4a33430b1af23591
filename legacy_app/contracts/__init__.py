"""The sample's event contracts, written in Python: one ``cutover.contracts.Contract`` each.

* :mod:`legacy_app.contracts.domain` — the order's domain events (``order.created`` ...);
* :mod:`legacy_app.contracts.integration` — integration events (``integration.customer.created``)
  and their upcasters;
* :mod:`legacy_app.contracts.commands` — commands (``CreateOrder`` ...);
* :mod:`legacy_app.contracts.values` — the value types and amounts they share.

The JSON Schemas beside these modules (``<type>.v<N>.json``) are generated from them by
``scripts/export_sample_contracts.py`` (older versions are kept as committed files), with
the hand-written ``upcasters.toml``: the directory the rehearsal's plan names
(``contracts: {dir: ...}``), read like any team's. ``tests/unit/legacy_app/test_contracts.py``
fails when the structs and the committed files drift apart.
"""

from __future__ import annotations

from legacy_app.contracts.commands import COMMANDS
from legacy_app.contracts.domain import DOMAIN_EVENTS
from legacy_app.contracts.integration import INTEGRATION_EVENTS

CONTRACTS = (*DOMAIN_EVENTS, *INTEGRATION_EVENTS, *COMMANDS)
"""Every contract of the sample, in the order the catalogue lists them."""

__all__ = ["CONTRACTS"]
