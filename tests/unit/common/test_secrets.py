"""Secrets never print: Secret values, URL passwords and sensitive pairs are masked."""

from __future__ import annotations

import io
import json

import structlog

from cutover_common.logging import configure_logging
from cutover_common.secrets import MASK, Secret, is_sensitive_key, redact, redact_value


def test_secret_prints_as_mask_and_reveals_on_request() -> None:
    secret = Secret("s3cr3t-value")

    assert repr(secret) == f"Secret('{MASK}')"
    assert str(secret) == MASK
    assert f"{secret}" == MASK
    assert secret.reveal() == "s3cr3t-value"


def test_a_wrapped_secret_is_masked_wherever_it_appears_in_text() -> None:
    Secret("p4ssw0rd-xyz")

    assert (
        redact("connection failed for p4ssw0rd-xyz at host")
        == f"connection failed for {MASK} at host"
    )


def test_url_passwords_are_masked_and_the_user_kept() -> None:
    assert (
        redact("postgresql://cutover:hunter22@127.0.0.1:5432/db")
        == f"postgresql://cutover:{MASK}@127.0.0.1:5432/db"
    )


def test_sensitive_pairs_and_auth_headers_are_masked() -> None:
    text = 'database.password=abc123 "token": "t0k" Authorization: Basic dXNlcjpwdw=='

    out = redact(text)

    assert "abc123" not in out and "t0k" not in out and "dXNlcjpwdw==" not in out


def test_words_that_merely_start_with_pass_are_not_secrets() -> None:
    assert not is_sensitive_key("passed")
    assert not is_sensitive_key("passes")
    assert redact("passed=3 failed=0") == "passed=3 failed=0"
    assert is_sensitive_key("db.pass")
    assert is_sensitive_key("database.password")


def test_redact_value_masks_sensitive_keys_recursively() -> None:
    data = {
        "connector": {"database.password": "pw", "database.user": "u"},
        "items": [{"api_key": "k"}],
    }

    assert redact_value(data) == {
        "connector": {"database.password": MASK, "database.user": "u"},
        "items": [{"api_key": MASK}],
    }


def test_logging_layer_redacts_secret_fields_and_values() -> None:
    out = io.StringIO()
    configure_logging(json=True, stream=out)
    Secret("very-secret-pw")

    structlog.get_logger("t").info(
        "connecting", password="very-secret-pw", dsn="host=h password=very-secret-pw"
    )

    line = json.loads(out.getvalue().strip().splitlines()[-1])
    assert line["password"] == MASK
    assert "very-secret-pw" not in out.getvalue()
