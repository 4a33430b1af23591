"""Shared fixtures of the integration tier: the REAL local stack, never mocks.

The stack is started by the README's test command (``make test``); these
fixtures bring it up themselves if needed (``up`` is idempotent) and fail —
never skip — when it cannot be reached.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from rehearsal.stack import manager
from rehearsal.stack.endpoints import Endpoints, load_endpoints
from rehearsal.stack.pgadmin import create_database, drop_database
from rehearsal.stack.topology import Topology, load_topology


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def topology() -> Topology:
    return load_topology()


@pytest.fixture(scope="session")
def endpoints(topology: Topology) -> Endpoints:
    """The running stack's endpoints; starts the stack when it is not up."""
    report = manager.status(topology)
    if not report.healthy:
        report = manager.up(topology)
    if not report.healthy:
        bad = [c.name for c in report.components if not c.healthy]
        pytest.fail(f"local stack is not healthy ({', '.join(bad)}); see `cutover stack status`")
    return load_endpoints(topology)


@pytest.fixture
def unique() -> str:
    """A short unique suffix for topic, connector, slot, publication and group names."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def fresh_database(endpoints: Endpoints) -> Iterator[str]:
    """The name of a new, empty database on the stack's Postgres, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    create_database(endpoints, name)
    yield name
    drop_database(endpoints, name)
