"""``init_outbox``'s error boundary and URL handling (no database needed)."""

from __future__ import annotations

import pytest

from cdc.outbox_table import OutboxLayout
from comparators.sources import libpq_url
from cutover.errors import OutboxDatabaseError
from cutover.provision import InitResult, init_outbox


def test_an_unreachable_database_is_exit_8_without_the_password() -> None:
    with pytest.raises(OutboxDatabaseError) as info:
        init_outbox("postgresql+psycopg://app:s3cr3t-pw@127.0.0.1:1/app", OutboxLayout())
    assert info.value.exit_code == 8
    assert str(info.value).startswith("cannot reach the outbox database: OperationalError")
    assert "s3cr3t-pw" not in str(info.value)


def test_sqlalchemy_urls_become_libpq_uris_and_dsns_pass_through() -> None:
    assert libpq_url("postgresql+psycopg://u:p@h:5/d") == "postgresql://u:p@h:5/d"
    assert libpq_url("host=h port=5 dbname=d") == "host=h port=5 dbname=d"


def test_the_result_as_json() -> None:
    result = InitResult("public.outbox", False, True, ("CREATE UNIQUE INDEX ...",))
    assert result.to_dict() == {
        "table": "public.outbox",
        "status": "adopted",
        "index_created": True,
        "statements": ["CREATE UNIQUE INDEX ..."],
    }
