"""The shadow asynchronous pipeline.

A consumer runtime (at-least-once, idempotent, per-key ordering, retries, dead-letter
topic, graceful shutdown, metrics), the handlers and the saga that derive each
order's outcome from events, and the shadow store that holds those outcomes.
"""
