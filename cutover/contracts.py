"""Event contracts written in Python, for an application and its shadow handlers.

One frozen ``msgspec`` struct per event type (:class:`Contract`, with ``type``, ``version``,
``aggregate_type`` and ``subject_field`` class variables); :func:`encode` / :func:`decode`
through msgspec; :func:`schema_files` generates the ``<type>.v<N>.json`` JSON Schemas of the
contracts directory the plan names (``contracts: {dir: ...}``), which ``cutover events
check`` and the phase-3 gate read. See ``docs/contracts.md``.
"""

from __future__ import annotations

from events.errors import ContractDecodeError, ContractDefinitionError
from events.structs import Contract, check_contract, contract_schema, decode, encode, schema_files

__all__ = [
    "Contract",
    "ContractDecodeError",
    "ContractDefinitionError",
    "check_contract",
    "contract_schema",
    "decode",
    "encode",
    "schema_files",
]
