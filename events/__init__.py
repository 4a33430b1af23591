"""Event contracts shared by every cutover package: envelope, events, commands, schemas.

Pure code: nothing here does I/O beyond reading the packaged schema files.
Import the pieces from their modules (``events.envelope``, ``events.domain``,
``events.integration``, ``events.commands``, ``events.codec``,
``events.catalog``, ``events.upcasting``, ``events.compat``).
"""
