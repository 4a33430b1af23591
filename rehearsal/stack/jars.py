"""Fetch the Kafka, Kafka Connect and Debezium jars from Maven Central, once.

Two poms under ``rehearsal/stack/maven/`` describe what is needed; Maven copies
the resolved jars into the git-ignored state directory. A stamp file holding
the poms' hash makes later runs a no-op until a pom changes.
"""

from __future__ import annotations

import fcntl
import hashlib
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from rehearsal.stack.errors import JavaMissingError, MavenError
from rehearsal.stack.topology import Topology

MAVEN_DIR = Path(__file__).resolve().parent / "maven"
# Jars the Connect worker itself provides; a plugin folder must not carry its own copies.
PLUGIN_EXCLUDES = "connect-api,kafka-clients,slf4j-api,lz4-java,snappy-java,zstd-jni"


@dataclass(frozen=True, slots=True)
class JarLayout:
    """Where the jars live: Kafka's classpath and Connect's plugin path."""

    kafka_lib: Path
    plugin_path: Path

    @property
    def debezium_dir(self) -> Path:
        return self.plugin_path / "debezium-postgres"

    def classpath(self) -> str:
        return str(self.kafka_lib / "*")


def layout(topology: Topology) -> JarLayout:
    root = topology.jar_cache
    return JarLayout(kafka_lib=root / "kafka", plugin_path=root / "plugins")


def java_binary() -> str:
    """Path of a Java 17+ ``java``; raises :class:`JavaMissingError` otherwise."""
    java = shutil.which("java")
    if java is None:
        raise JavaMissingError("`java` is not on PATH")
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=True
        ).stderr
    except (OSError, subprocess.SubprocessError) as exc:
        raise JavaMissingError(f"`java -version` failed: {exc}") from exc
    match = re.search(r'version "(\d+)', out)
    if not match or int(match.group(1)) < 17:
        raise JavaMissingError(f"found {out.splitlines()[0] if out else 'unknown'}, need 17+")
    return java


RUNTIME_POMS = ("debezium", "kafka")
"""The poms every stack needs; ``connect-auth`` is fetched only when asked for (its own stamp)."""


def _poms_hash(names: tuple[str, ...] = RUNTIME_POMS) -> str:
    digest = hashlib.sha256()
    for name in sorted(names):
        digest.update((MAVEN_DIR / name / "pom.xml").read_bytes())
    return digest.hexdigest()


def _copy_dependencies(pom: Path, out_dir: Path, extra: list[str]) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise MavenError(str(pom), "`mvn` is not on PATH")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    argv = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={out_dir}",
        "-DincludeScope=runtime",
        *extra,
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "ERROR" in ln]
        raise MavenError(pom.parent.name, (lines[0] if lines else f"exit {proc.returncode}")[:400])


def ensure_jars(topology: Topology) -> tuple[JarLayout, bool]:
    """Make sure the jars are present; returns the layout and whether Maven ran."""
    topology.jar_cache.mkdir(parents=True, exist_ok=True)
    with (topology.jar_cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _ensure_jars(topology)


def _ensure_jars(topology: Topology) -> tuple[JarLayout, bool]:
    jars = layout(topology)
    stamp = topology.jar_cache / "poms.sha256"
    wanted = _poms_hash()
    if stamp.exists() and stamp.read_text().strip() == wanted and _complete(jars):
        return jars, False
    _copy_dependencies(MAVEN_DIR / "kafka" / "pom.xml", jars.kafka_lib, [])
    _copy_dependencies(
        MAVEN_DIR / "debezium" / "pom.xml",
        jars.debezium_dir,
        [f"-DexcludeArtifactIds={PLUGIN_EXCLUDES}"],
    )
    if not _complete(jars):
        raise MavenError("kafka/debezium", "Maven finished but expected jars are missing")
    stamp.write_text(wanted + "\n")
    return jars, True


def _complete(jars: JarLayout) -> bool:
    return any(jars.kafka_lib.glob("kafka_2.13-*.jar")) and any(
        jars.debezium_dir.glob("debezium-connector-postgres-*.jar")
    )


def ensure_auth_jars(topology: Topology) -> Path:
    """The folder with Connect's basic-auth REST extension, fetched once (``--connect-auth``)."""
    folder = topology.jar_cache / "connect-auth"
    stamp = topology.jar_cache / "connect-auth.sha256"
    wanted = _poms_hash(("connect-auth",))
    topology.jar_cache.mkdir(parents=True, exist_ok=True)
    with (topology.jar_cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        fresh = stamp.exists() and stamp.read_text().strip() == wanted
        if not (fresh and any(folder.glob("connect-basic-auth-extension-*.jar"))):
            _copy_dependencies(MAVEN_DIR / "connect-auth" / "pom.xml", folder, [])
            stamp.write_text(wanted + "\n")
    return folder
