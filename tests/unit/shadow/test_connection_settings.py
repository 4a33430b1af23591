"""``cutover shadow`` connects where its settings say (``--bootstrap`` /
``CUTOVER_SHADOW_BOOTSTRAP``, ``--dsn`` / ``CUTOVER_SHADOW_DSN``), never to a stack of its own:
a missing database is one line naming the flag and the variable."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner

from cutover_common.cli import run_cli
from cutover_common.config import SHADOW_BOOTSTRAP, SHADOW_DSN
from cutover_common.exit_codes import ExitCode
from shadow import commands
from shadow.cli import shadow
from shadow.config import ShadowConfig
from shadow.errors import ShadowConfigError

APP = ["--app", "tests.unit.shadow.test_config_cli:TEAM"]
DSN = "host=db.internal user=shadow dbname=shadow"


def capture(seen: list[ShadowConfig]) -> Callable[..., int]:
    """A stand-in for ``shadow.commands.run`` that keeps the config it was given."""

    def run(config: ShadowConfig, **_kw: object) -> int:
        seen.append(config)
        return 0

    return run


def test_the_bootstrap_servers_default_to_kafka_on_this_machine() -> None:
    config = ShadowConfig.from_env({SHADOW_DSN.name: DSN})

    assert config.bootstrap_servers == "127.0.0.1:9092"
    assert config.dsn.reveal() == DSN


def test_the_variables_name_the_cluster_and_the_database() -> None:
    env = {SHADOW_BOOTSTRAP.name: "kafka-1:9092", SHADOW_DSN.name: DSN}

    config = ShadowConfig.from_env(env)

    assert (config.bootstrap_servers, config.dsn.reveal()) == ("kafka-1:9092", DSN)


def test_without_a_database_the_error_names_the_flag_and_the_variable() -> None:
    with pytest.raises(ShadowConfigError) as caught:
        ShadowConfig.from_env({SHADOW_BOOTSTRAP.name: "kafka-1:9092"})

    assert caught.value.field == "dsn"
    assert "--dsn" in str(caught.value) and SHADOW_DSN.name in str(caught.value)


def test_the_cli_without_a_database_exits_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(SHADOW_DSN.name, raising=False)

    code = run_cli(shadow, ["run", *APP])

    err = capsys.readouterr().err.strip().splitlines()
    assert code == ExitCode.INVALID_INPUT
    assert len(err) == 1 and "--dsn" in err[0] and SHADOW_DSN.name in err[0]


def test_the_flags_win_over_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[ShadowConfig] = []
    monkeypatch.setattr(commands, "run", capture(seen))
    env = {SHADOW_BOOTSTRAP.name: "kafka-1:9092", SHADOW_DSN.name: DSN}

    flags = ["--bootstrap", "10.0.0.7:19092", "--dsn", "host=other dbname=s"]
    for args in ([], flags):
        result = CliRunner(env=env).invoke(shadow, [*args, "run", *APP])
        assert result.exit_code == 0, result.output

    assert [(c.bootstrap_servers, c.dsn.reveal()) for c in seen] == [
        ("kafka-1:9092", DSN),
        ("10.0.0.7:19092", "host=other dbname=s"),
    ]
