"""Offline ``cutover plan validate``: the problems it used to call valid (issue 16, item 3)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from phases.commands import CommandConfig, plan_validate
from tests.unit.events.contracts_dir import team_contracts

PLAN = """\
version: 1
system:
  database: {url_env: APP_DATABASE_URL}
  kafka: {bootstrap_servers: "127.0.0.1:9092", topic_prefix: outbox.event}
  connect: {url: "http://127.0.0.1:8083"}
contexts:
  article:
    tables: [articles]
    topic: {name: outbox.event.article}
    events: [article.favorited]
    outcome:
      key: article_id
      sync_query: SELECT id AS article_id, produced_at FROM articles
      event_query: SELECT article_id, produced_at FROM shadow_articles
    invariants: ["tests.unit.phases.test_plan_validate_offline:no_check"]
gates:
  broker: {}
  dual_write: {min_match_rate: 0.99}
  async: {min_match_rate: 0.99}
  remove_sync: {}
"""


def no_check(records: object) -> None:
    """An invariant that never objects (the plan above names it)."""
    return None


def _validate(tmp_path: Path, text: str | bytes, *, as_json: bool = False) -> tuple[int, str]:
    path = tmp_path / "plan.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    out = io.StringIO()
    code = plan_validate(CommandConfig(stdout=out, json=as_json), path)
    return code, out.getvalue()


def test_the_base_plan_is_valid(tmp_path: Path) -> None:
    code, out = _validate(tmp_path, PLAN)
    assert (code, out.endswith("valid (1 contexts: article)\n")) == (0, True)


def test_a_context_written_twice_is_refused_with_both_lines(tmp_path: Path) -> None:
    twice = PLAN.replace("gates:", "  article:\n    tables: [x]\n    topic: {name: t}\ngates:")
    code, out = _validate(tmp_path, twice)
    assert (code, out.splitlines()) == (
        2,
        [
            "contexts.article: key 'article' written twice (lines 7 and 16); YAML would keep "
            "only the last"
        ],
    )


def test_random_bytes_are_one_line_not_utf8(tmp_path: Path) -> None:
    code, out = _validate(tmp_path, b"version: 1\n\xff\xfe\x00\x9c garbage")
    assert (code, out) == (2, "<file>: not UTF-8 text (byte 0xff at line 2, offset 11)\n")


def test_a_yaml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    code, out = _validate(tmp_path, PLAN.replace("tables: [articles]", "tables: [articles"))
    assert code == 2
    assert out.startswith("line 9, column 10: not valid YAML:")


def test_a_control_character_is_one_line(tmp_path: Path) -> None:
    code, out = _validate(tmp_path, PLAN + "\x07\n")
    assert (code, out) == (
        2,
        "line 21, column 1: not valid YAML: unacceptable character #x0007: special characters "
        "are not allowed\n",
    )


def test_warn_match_rate_above_min_match_rate_is_refused(tmp_path: Path) -> None:
    code, out = _validate(
        tmp_path,
        PLAN.replace(
            "dual_write: {min_match_rate: 0.99}",
            "dual_write: {min_match_rate: 0.9, warn_match_rate: 0.95}",
        ),
    )
    assert (code, out.splitlines()) == (
        2,
        [
            "gates.dual_write.warn_match_rate: 0.95 is above min_match_rate 0.9; below warn "
            "fails, so warn lies at or below the passing rate (line 18)"
        ],
    )


def test_an_unknown_invariant_name_is_refused(tmp_path: Path) -> None:
    code, out = _validate(
        tmp_path,
        PLAN.replace(
            '"tests.unit.phases.test_plan_validate_offline:no_check"', "payment_captured_once"
        ),
    )
    assert code == 2
    assert out.startswith(
        "contexts.article.invariants.0: unknown invariant 'payment_captured_once'"
    )


def test_a_callable_not_written_module_attribute_is_refused(tmp_path: Path) -> None:
    code, out = _validate(
        tmp_path,
        PLAN.replace(
            "      sync_query: SELECT id AS article_id, produced_at FROM articles",
            "      sync_callable: no_such_module.nope",
        ),
    )
    assert (code, out.splitlines()) == (
        2,
        [
            "contexts.article.outcome.sync_callable: callable 'no_such_module.nope' is not "
            "written module:attribute (line 13)"
        ],
    )


def test_an_event_no_contract_defines_is_refused(tmp_path: Path) -> None:
    team_contracts(tmp_path / "contracts")
    text = PLAN.replace("[article.favorited]", "[article.favorited, article.fovorited]")
    code, out = _validate(tmp_path, text + "contracts: {dir: contracts}\n")
    assert (code, out.splitlines()) == (
        2,
        [
            "contexts.article.events.1: event 'article.fovorited' is in no contract of "
            f"{tmp_path / 'contracts'}"
        ],
    )


def test_json_output_lists_each_problem_with_its_path(tmp_path: Path) -> None:
    code, out = _validate(tmp_path, b"\xff", as_json=True)
    assert (code, json.loads(out)["errors"]) == (
        2,
        [{"path": "<file>", "message": "not UTF-8 text (byte 0xff at line 1, offset 0)"}],
    )
