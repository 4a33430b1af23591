"""The sample's new system: the order flow that replaces the monolith's synchronous calls.

It runs as a shadow plug-in (:mod:`legacy_app.orderflow.app`), registered through the public
``cutover.shadow`` API like any team's handlers: ``cutover shadow run --app
legacy_app.orderflow.app:app``. Choreography (:mod:`.flow`) or saga (:mod:`.saga`) over the
order, inventory, payment, shipping and email contexts; its read model and outbox live in
its own shadow tables (:mod:`.schema`), written in bulk (:mod:`.store_pg`).
"""
