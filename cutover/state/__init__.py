"""cutover's own tables (modes, instance heartbeats, verify results, blocked calls; phase,
journal, lock, audit, compare watermarks), in their own schema, versioned with alembic.

:mod:`cutover.state.models` declares them, :mod:`cutover.state.init` creates or upgrades them
(``cutover init``), :mod:`cutover.state.naming` says where they are. The table contract is
in ``docs/app-sdk.md`` ("State tables").
"""
