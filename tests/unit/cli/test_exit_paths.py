"""Exit paths of real commands that need no services: each ends on its row of the table."""

from __future__ import annotations

from pathlib import Path

from cutover_common.exit_codes import ExitCode
from phases.cli import cli
from tests.unit.cli.conftest import run

SAMPLE = Path(__file__).resolve().parents[3] / "phases" / "examples" / "sample-plan.yaml"


def test_an_unreachable_state_store_is_exit_8_in_one_line(tmp_path: Path) -> None:
    env = {"LEGACY_DATABASE_URL": f"sqlite:///{tmp_path / 'legacy.db'}"}
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'state.db'}"
    ran = run(cli, ["status", "--plan", str(SAMPLE), "--state-url", url], env=env)
    assert ran.code == ExitCode.UNREACHABLE == 8
    assert ran.err.splitlines() == [
        "error: state store unreachable: unable to open database file — check --state-url / "
        "CUTOVER_STATE_URL and that the database is up"
    ]


def test_an_unset_environment_variable_is_invalid_input() -> None:
    ran = run(cli, ["connectors", "--auth-env", "CUTOVER_TEST_NOT_SET", "list"])
    assert (ran.code, ran.err) == (
        ExitCode.INVALID_INPUT,
        "error: environment variable CUTOVER_TEST_NOT_SET (named by --auth-env) is not set\n",
    )


def test_an_invalid_plan_is_2_with_the_field(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("version: 1\ncontexts: {}\n")
    ran = run(cli, ["status", "--plan", str(plan)])
    assert ran.code == ExitCode.INVALID_INPUT
    assert len(ran.err.splitlines()) == 1 and ran.err.startswith(f"error: invalid plan {plan}")


def test_the_plan_positional_argument_and_plan_option_agree(tmp_path: Path) -> None:
    by_argument = run(cli, ["plan", "validate", str(SAMPLE), "--json"])
    by_option = run(cli, ["plan", "validate", "--plan", str(SAMPLE), "--json"])
    by_env = run(cli, ["plan", "validate", "--json"], env={"CUTOVER_PLAN": str(SAMPLE)})
    assert by_argument.code == by_option.code == by_env.code == 0
    assert by_argument.out == by_option.out == by_env.out


def test_an_unreachable_connect_worker_is_exit_8() -> None:
    ran = run(cli, ["connectors", "--url", "http://127.0.0.1:9", "--timeout", "2", "list"])
    assert ran.code == ExitCode.UNREACHABLE
    assert ran.err.startswith("error: Kafka Connect at http://127.0.0.1:9 is unreachable")
    assert len(ran.err.splitlines()) == 1


def test_a_malformed_traffic_mix_is_a_usage_error() -> None:
    ran = run(cli, ["traffic", "--mix", "bogus", "--dry-run"])
    assert ran.code == ExitCode.INVALID_INPUT
    assert "Invalid value for --mix: bad mix entry 'bogus'" in ran.err
