"""The sample synchronous monolith that cutover rehearses on.

* :mod:`legacy_app.app` — the order service (``create_app``); :mod:`legacy_app.services`
  — inventory, payment, shipping and email, each a Flask app with its own tables.
* :mod:`legacy_app.flow` — the order saga and its compensations (pure, behind ports);
  :mod:`legacy_app.placing` — storing orders, the outbox, the per-context mode switch.
* :mod:`legacy_app.outcomes` — the sync (and verify) outcome records for comparators;
  :mod:`legacy_app.ledger` — verify runs and blocked sync calls through ``cutover.Migration``.
* :mod:`legacy_app.runner` — the services as local processes (``cutover app up|down|status``
  is :mod:`rehearsal.app_cli`, which knows the local stack).

The sample is an application like a team's: it reaches cutover only through the public
surface (``import cutover``: the outbox writer, the mode switch, the migration runner,
``cutover.init_state``), never :mod:`rehearsal`, ``cutover_common`` or a library package
(``tests/unit/test_public_surface_only.py`` checks it). ``naive-dual``'s post-commit produce
(:class:`legacy_app.outbox.KafkaPublisher`) is the sample's own code.
"""
