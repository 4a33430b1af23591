"""The sample synchronous monolith that cutover rehearses on.

* :mod:`legacy_app.app` — the order service (``create_app``); :mod:`legacy_app.services`
  — inventory, payment, shipping and email, each a Flask app with its own tables.
* :mod:`legacy_app.flow` — the order saga and its compensations (pure, behind ports);
  :mod:`legacy_app.placing` — storing orders, the outbox, the per-context mode switch.
* :mod:`legacy_app.outcomes` — the sync (and verify) outcome records for comparators;
  :mod:`legacy_app.ledger` — verify results and blocked sync calls (phase 5).
* :mod:`legacy_app.runner` / :mod:`legacy_app.cli` — ``cutover app up|down|status``.

Nothing here imports :mod:`rehearsal` at import time (only the CLI, lazily).
"""
