"""Fixtures of the comparator integration tests: the shadow tier's outbox pipeline (a fresh
database with an outbox, a real Debezium outbox connector routing it to a unique topic)."""

from tests.integration.shadow.conftest import outbox_db, pipeline

__all__ = ["outbox_db", "pipeline"]
