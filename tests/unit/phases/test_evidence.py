from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from phases.evidence import sha256_file, write_bundle
from phases.gates import Check, GateResult, Verdict


def result(detail: str, snapshots: dict[str, object] | None = None) -> GateResult:
    return GateResult(
        3,
        "dual_write",
        Verdict.FAIL,
        (
            Check("comparison_verdict", Verdict.FAIL, "fail", "pass", detail, "payment"),
            Check("consumer_lag", Verdict.PASS, 0, 10, "ok", "payment"),
        ),
        ("payment",),
        datetime(2026, 11, 26, 15, 0, tzinfo=UTC),
        snapshots or {},
    )


def test_bundle_has_json_html_junit_and_the_sha_of_the_json(tmp_path: Path) -> None:
    ref = write_bundle(tmp_path, result("3 divergent"), plan_digest="abc")
    assert sha256_file(Path(ref.path)) == ref.sha256
    doc = json.loads(Path(ref.path).read_text())
    assert doc["verdict"] == "fail" and doc["plan_digest"] == "abc"
    assert doc["reasons"] == ["payment: comparison_verdict: 3 divergent"]
    junit = Path(ref.junit_path).read_text()
    assert 'tests="2" failures="1"' in junit
    assert Path(ref.path).parent.name.startswith("20261126T150000")


def test_html_is_autoescaped(tmp_path: Path) -> None:
    ref = write_bundle(tmp_path, result("<script>alert(1)</script>"), plan_digest="abc")
    html = Path(ref.html_path).read_text()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_secrets_are_redacted_from_the_bundle(tmp_path: Path) -> None:
    snap = {"connector": {"database.password": "hunter2", "url": "postgresql://u:pw123@h/db"}}
    ref = write_bundle(tmp_path, result("x", snap), plan_digest="abc")
    for path in (ref.path, ref.html_path):
        body = Path(path).read_text()
        assert "hunter2" not in body and "pw123" not in body
