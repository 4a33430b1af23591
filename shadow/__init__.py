"""The shadow asynchronous pipeline, generic: it knows no business domain.

A consumer runtime (:mod:`shadow.runtime`: at-least-once, idempotent, per-key ordering,
retries, dead-letter topic, breakers and partition pauses, graceful shutdown, metrics)
driving a processor (:mod:`shadow.plugin`): the handlers a team registers on a
``cutover.shadow.ShadowApp`` (:mod:`shadow.app`, on the store of :mod:`shadow.app_store`),
or an advanced consumer the app plugs in.
"""
