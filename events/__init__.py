"""Event contracts, generic: envelope, contracts registry, schemas, versions, compatibility.

A team's contracts are a directory of JSON Schemas (:mod:`events.registry`), written by
hand or generated from Python structs (:mod:`events.structs`). Pure code apart from
reading that directory. Import the pieces from their modules (``events.envelope``,
``events.routed``, ``events.registry``, ``events.structs``, ``events.codec``,
``events.upcasting``, ``events.compat``, ``events.commands``).
"""
