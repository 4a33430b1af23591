"""``connectors.<block>.password_ref``: the connector's database password as a Kafka Connect
config provider reference, which the worker resolves, so Connect never holds the password.
``cutover plan validate`` refuses anything that is not a reference (never echoing it)."""

from __future__ import annotations

import pytest

from cdc.debezium import PasswordRef
from cdc.safety import CONFIG_PROVIDERS, check
from phases.outbox_connectors import application_connector, connector_config
from phases.plan_connectors import plan_desired
from tests.unit.phases.test_plan_connectors import URL, issues, plan_with

REF = "${env:CUTOVER_PG_PASSWORD}"
ENV = {"LEGACY_DATABASE_URL": URL}


def test_the_connect_config_holds_the_reference_not_the_urls_password() -> None:
    connector = application_connector(plan_with({"outbox": {"password_ref": REF}}))

    config = connector_config(connector, URL, ENV)

    assert config["database.password"] == REF
    assert "url-pw" not in str(config.values())


def test_a_file_provider_reference_is_kept_whole() -> None:
    ref = "${file:/etc/kafka/secrets/pg.properties:password}"
    connector = application_connector(plan_with({"outbox": {"password_ref": ref}}))

    assert connector_config(connector, URL, ENV)["database.password"] == ref


def test_without_a_reference_the_urls_password_is_still_sent() -> None:
    connector = application_connector(plan_with({"outbox": {}}))

    assert connector_config(connector, URL, ENV)["database.password"].reveal() == "url-pw"  # type: ignore[union-attr]


def test_connectors_apply_allows_only_the_plans_own_reference() -> None:
    [owned] = plan_desired(plan_with({"outbox": {"password_ref": REF}}), ENV)
    [plain] = plan_desired(plan_with({"outbox": {}}), ENV)

    assert owned.desired.allow == frozenset({CONFIG_PROVIDERS})
    check(owned.desired.name, owned.desired.config, owned.desired.allow)  # not refused
    assert plain.desired.allow == frozenset()


@pytest.mark.parametrize("literal", ["hunter2", "${env:}", "env:PG_PASSWORD", "${hunter2}"])
def test_a_password_in_place_of_the_reference_is_refused_without_echoing_it(
    literal: str,
) -> None:
    found = issues({"outbox": {"password_ref": literal}})

    message = found["connectors.outbox.password_ref"]
    assert "config provider reference" in message
    assert literal not in message


def test_a_password_env_and_a_reference_together_are_refused() -> None:
    found = issues({"outbox": {"password_ref": REF, "password_env": "PG_PASSWORD"}})

    assert "not both" in found["connectors.outbox"]


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        (REF, PasswordRef("env", "CUTOVER_PG_PASSWORD")),
        ("${file:/run/pg.properties:pw}", PasswordRef("file", "/run/pg.properties", "pw")),
        ("${directory:/run/secrets:pg}", PasswordRef("directory", "/run/secrets", "pg")),
    ],
)
def test_a_reference_parses_and_renders_back_to_itself(text: str, ref: PasswordRef) -> None:
    assert PasswordRef.parse(text) == ref
    assert ref.render() == text


def test_a_reference_that_does_not_parse_is_not_quoted_in_the_error() -> None:
    with pytest.raises(ValueError, match="config provider reference") as info:
        PasswordRef.parse("s3cr3t-value")

    assert "s3cr3t-value" not in str(info.value)
