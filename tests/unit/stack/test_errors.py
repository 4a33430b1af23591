"""Bad environments end with one clear error line naming the cause and the fix, and a non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from rehearsal.stack import kafka, postgres
from rehearsal.stack.errors import CorruptStateError, JavaMissingError, MavenError
from rehearsal.stack.jars import JarLayout, ensure_jars, java_binary
from rehearsal.stack.topology import Topology


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "phases.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _error_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith("error:")]


def test_missing_java_is_reported_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(JavaMissingError) as err:
        java_binary()

    assert "`java` is not on PATH" in str(err.value)
    assert err.value.hint is not None and "apt-get install" in err.value.hint


def test_cli_without_java_prints_one_error_line_and_exits_1(tmp_path: Path) -> None:
    proc = _cli(
        ["stack", "up"], {"PATH": str(tmp_path), "CUTOVER_STATE_DIR": str(tmp_path / "state")}
    )

    assert proc.returncode == 1
    lines = _error_lines(proc.stderr)
    assert len(lines) == 1
    assert "Java 17+ is required" in lines[0] and "apt-get install" in lines[0]


def test_missing_maven_is_a_maven_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    topo = replace(Topology(), state_dir=tmp_path, jar_cache=tmp_path / "jars")

    with pytest.raises(MavenError) as err:
        ensure_jars(topo)

    assert "`mvn` is not on PATH" in str(err.value)


def test_kafka_data_without_meta_properties_is_corrupt_state(tmp_path: Path) -> None:
    topo = replace(Topology(), state_dir=tmp_path)
    data = tmp_path / "kafka" / "data"
    data.mkdir(parents=True)
    (data / "orders-0").mkdir()
    svc = kafka.kafka_service(topo)

    with pytest.raises(CorruptStateError) as err:
        kafka._format_storage(topo, JarLayout(tmp_path, tmp_path), svc)

    assert "meta.properties is missing" in str(err.value)
    assert err.value.hint is not None and "cutover stack down --wipe" in err.value.hint


def test_kafka_meta_properties_without_cluster_id_is_corrupt_state(tmp_path: Path) -> None:
    topo = replace(Topology(), state_dir=tmp_path)
    data = tmp_path / "kafka" / "data"
    data.mkdir(parents=True)
    (data / "meta.properties").write_text("version=1\n")

    with pytest.raises(CorruptStateError, match=r"lacks cluster\.id"):
        kafka._format_storage(topo, JarLayout(tmp_path, tmp_path), kafka.kafka_service(topo))


def test_postgres_data_without_pg_version_is_corrupt_state(tmp_path: Path) -> None:
    topo = replace(Topology(), state_dir=tmp_path)
    data = postgres.paths(topo).data
    data.mkdir(parents=True)
    (data / "base").mkdir()

    with pytest.raises(CorruptStateError, match="PG_VERSION is missing"):
        postgres._check_data_dir(topo, postgres.paths(topo))


def test_cli_on_a_corrupt_state_dir_prints_one_error_line_with_the_fix(tmp_path: Path) -> None:
    data = tmp_path / "state" / "postgres" / "data"
    data.mkdir(parents=True)
    (data / "base").mkdir()

    proc = _cli(
        ["stack", "up"], {"CUTOVER_STATE_DIR": str(tmp_path / "state"), "CUTOVER_PG_PORT": "54999"}
    )

    assert proc.returncode == 1
    lines = _error_lines(proc.stderr)
    assert len(lines) == 1
    assert "state of postgres" in lines[0] and "corrupt" in lines[0] and "--wipe" in lines[0]
