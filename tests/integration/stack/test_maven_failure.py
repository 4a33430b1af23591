"""A failing Maven download (an artifact Maven Central does not have) is one clear error."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from rehearsal.stack import jars
from rehearsal.stack.errors import MavenError
from rehearsal.stack.topology import Topology

BAD_POM = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.cutover.test</groupId><artifactId>bad</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>dev.cutover.nonexistent</groupId><artifactId>no-such-jar</artifactId><version>0.0.1</version></dependency>
  </dependencies>
</project>
"""


def test_unresolvable_artifact_raises_maven_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    maven_dir = tmp_path / "maven"
    for sub in ("kafka", "debezium"):
        (maven_dir / sub).mkdir(parents=True)
        (maven_dir / sub / "pom.xml").write_text(BAD_POM)
    monkeypatch.setattr(jars, "MAVEN_DIR", maven_dir)
    topo = replace(Topology(), state_dir=tmp_path / "state", jar_cache=tmp_path / "jars")

    with pytest.raises(MavenError) as err:
        jars.ensure_jars(topo)

    assert "no-such-jar" in str(err.value)
    assert err.value.hint is not None and "Maven Central" in err.value.hint
    assert not (tmp_path / "jars" / "poms.sha256").exists()
