"""``cutover_common.config``: one ``CUTOVER_*`` name per setting, its default, flag over
variable over default; the local stack's addresses are defaults only where the setting says."""

from __future__ import annotations

from cutover_common import config
from cutover_common.config import (
    CONNECT_URL,
    KAFKA_BOOTSTRAP_SERVERS,
    LOCAL_CONNECT_URL,
    SHADOW_BOOTSTRAP,
    SHADOW_DSN,
    Setting,
)

DEMO = Setting("CUTOVER_DEMO", "fallback", "a setting of this test")


def test_the_flag_wins_over_the_variable_which_wins_over_the_default() -> None:
    env = {"CUTOVER_DEMO": "from-env"}

    assert DEMO.get(env, "from-flag") == "from-flag"
    assert DEMO.get(env) == "from-env"
    assert DEMO.get({}) == "fallback"


def test_a_blank_variable_is_not_set() -> None:
    assert DEMO.get({"CUTOVER_DEMO": "  "}) == "fallback"
    assert SHADOW_DSN.get({SHADOW_DSN.name: ""}) is None


def test_the_shadow_reads_kafka_on_this_machine_unless_told_otherwise() -> None:
    assert SHADOW_BOOTSTRAP.get({}) == "127.0.0.1:9092"
    assert SHADOW_BOOTSTRAP.get({SHADOW_BOOTSTRAP.name: "kafka-1:9092,kafka-2:9092"}) == (
        "kafka-1:9092,kafka-2:9092"
    )


def test_the_shadow_store_has_no_default_database() -> None:
    assert SHADOW_DSN.default is None
    assert SHADOW_DSN.get({SHADOW_DSN.name: "host=db dbname=shadow"}) == "host=db dbname=shadow"


def test_connect_and_kafka_addresses_have_no_default_but_connects_own_local_port() -> None:
    # `cutover discover` writes them into a plan and an external stack needs them: no default
    assert CONNECT_URL.get({}) is None and KAFKA_BOOTSTRAP_SERVERS.get({}) is None
    # `cutover connectors` talks to a worker: Connect's own port on this machine
    assert LOCAL_CONNECT_URL == "http://127.0.0.1:8083"
    assert CONNECT_URL.get({CONNECT_URL.name: "http://connect:8083"}) == "http://connect:8083"


def test_every_setting_is_listed_once_with_a_cutover_name_and_a_meaning() -> None:
    declared = [v for v in vars(config).values() if isinstance(v, Setting)]
    names = [s.name for s in config.SETTINGS]

    assert sorted(names) == sorted(s.name for s in declared)
    assert len(set(names)) == len(names)
    assert all(n.startswith("CUTOVER_") for n in names)
    assert all(s.meaning for s in config.SETTINGS)
