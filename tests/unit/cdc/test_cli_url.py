"""``cutover connectors`` finds the Connect worker from ``--url``, then ``CUTOVER_CONNECT_URL``,
then Kafka Connect's own port on this machine (``cutover_common.config.LOCAL_CONNECT_URL``):
never from the rehearsal's stack (a stack on other ports is named explicitly)."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner

from cdc.cli import connectors
from cutover_common.config import CONNECT_URL, LOCAL_CONNECT_URL


def worker_url(args: list[str], env: dict[str, str]) -> str:
    """The URL of the client the group builds. The subcommand lacks its argument, so it stops
    with a usage error before any call: nothing is asked of any worker."""
    obj: dict[str, Any] = {}
    result = CliRunner().invoke(connectors, [*args, "offsets"], obj=obj, env=env)
    assert result.exit_code == 2 and "Missing argument" in result.output
    return str(obj["client"].transport.base_url)


def test_without_a_url_the_worker_is_connects_own_port_on_this_machine() -> None:
    # CUTOVER_CONNECT_PORT is the local stack's (rehearsal); the library does not read it
    env = {CONNECT_URL.name: "", "CUTOVER_CONNECT_PORT": "18083"}

    assert worker_url([], env) == LOCAL_CONNECT_URL == "http://127.0.0.1:8083"


def test_the_setting_names_the_worker() -> None:
    env = {CONNECT_URL.name: "https://connect.internal:8443/"}

    assert worker_url([], env) == "https://connect.internal:8443"


def test_the_flag_wins_over_the_setting() -> None:
    env = {CONNECT_URL.name: "http://connect.internal:8083"}

    assert worker_url(["--url", "http://10.0.0.7:28083"], env) == "http://10.0.0.7:28083"


def test_the_help_names_the_setting_and_its_default() -> None:
    text = CliRunner().invoke(connectors, ["--help"]).output

    assert CONNECT_URL.name in text and LOCAL_CONNECT_URL in text
