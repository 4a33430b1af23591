"""``cutover connectors`` reads Connect's basic auth from the variable ``--auth-env`` (or
``CUTOVER_CONNECT_AUTH_ENV``) names: the credentials are never a flag and never printed."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner

from cdc.cli import connectors
from cutover_common.errors import EnvironmentVariableMissing

URL = "http://127.0.0.1:9"  # nothing listens: the client is built, the call fails


def _invoke(env: dict[str, str]) -> tuple[Any, dict[str, Any]]:
    obj: dict[str, Any] = {}
    result = CliRunner().invoke(connectors, ["--url", URL, "list"], obj=obj, env=env)
    return result, obj


def test_the_auth_variable_named_by_the_setting_gives_the_clients_credentials() -> None:
    result, obj = _invoke(
        {"CUTOVER_CONNECT_AUTH_ENV": "TEAM_CONNECT", "TEAM_CONNECT": "ops:s3cret-pw"}
    )

    auth = obj["client"].transport.auth
    assert (auth.username, auth.password.reveal()) == ("ops", "s3cret-pw")
    assert "s3cret-pw" not in result.output + repr(obj["client"]) + str(result.exception)


def test_a_named_auth_variable_that_is_not_set_is_named_in_the_error() -> None:
    result, _ = _invoke({"CUTOVER_CONNECT_AUTH_ENV": "TEAM_CONNECT"})

    assert isinstance(result.exception, EnvironmentVariableMissing)
    assert "TEAM_CONNECT" in str(result.exception)
