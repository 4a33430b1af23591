from __future__ import annotations

from collections.abc import Iterator

import pytest

from cutover_common.topics import KafkaTopicAdmin
from phases.ports import TopicAdmin
from rehearsal.stack.endpoints import Endpoints
from tests.unit.phases.contracts import TopicAdminContract


class TestKafkaTopicAdmin(TopicAdminContract):
    """The same contract as the fake, on the real broker (unique topic names, deleted after)."""

    @pytest.fixture(autouse=True)
    def _broker(self, endpoints: Endpoints, unique: str) -> Iterator[None]:
        self.conf = {"bootstrap.servers": endpoints.bootstrap_servers}
        self.prefix = f"t{unique}.contract"
        yield
        admin = KafkaTopicAdmin(self.conf).admin
        mine = [t for t in admin.list_topics(timeout=10).topics if t.startswith(self.prefix)]
        if mine:
            for future in admin.delete_topics(mine, operation_timeout=30).values():
                future.result()

    def make(self) -> TopicAdmin:
        return KafkaTopicAdmin(self.conf)
