"""Evidence bundles: every gate evaluation leaves JSON + HTML + JUnit XML under the reports dir.

The JSON is the machine-readable record (thresholds, figures, connector and lag snapshots,
plan digest, everything redacted); its sha256 goes into the audit row.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from jinja2 import Environment, PackageLoader, select_autoescape

from cutover_common.secrets import redact_value
from phases.gates import GateResult, Verdict


@dataclass(frozen=True, slots=True)
class EvidenceRef:
    """Where a bundle was written and the sha256 of its JSON."""

    path: str
    sha256: str
    html_path: str
    junit_path: str


def _env() -> Environment:
    return Environment(
        loader=PackageLoader("phases", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
    )


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def bundle_dir(reports_dir: Path, result: GateResult) -> Path:
    stamp = result.evaluated_at.strftime("%Y%m%dT%H%M%S%fZ")
    ctx = "-" + "-".join(result.contexts) if 0 < len(result.contexts) <= 2 else ""
    return reports_dir / f"{stamp}-phase{result.phase}-{result.gate}{ctx}-{uuid.uuid4().hex[:6]}"


def write_bundle(
    reports_dir: Path, result: GateResult, *, plan_digest: str, extra: dict[str, Any] | None = None
) -> EvidenceRef:
    """Write ``evidence.json``, ``evidence.html`` and ``junit.xml``; return their reference."""
    folder = bundle_dir(reports_dir, result)
    folder.mkdir(parents=True, exist_ok=True)
    document = redact_value({**result.to_dict(), "plan_digest": plan_digest, **(extra or {})})
    json_path = folder / "evidence.json"
    json_path.write_text(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
    html_path = folder / "evidence.html"
    html = (
        _env().get_template("evidence.html.j2").render(doc=document, verdict=result.verdict.value)
    )
    html_path.write_text(html)
    junit_path = folder / "junit.xml"
    junit_path.write_text(junit_xml(result))
    return EvidenceRef(str(json_path), sha256_file(json_path), str(html_path), str(junit_path))


def junit_xml(result: GateResult) -> str:
    """One test case per check; fail/low-confidence are failures, warn is skipped-with-message."""
    cases = []
    for c in result.checks:
        name = quoteattr(f"{c.context + '.' if c.context else ''}{c.name}")
        body = ""
        if c.verdict in (Verdict.FAIL, Verdict.LOW_CONFIDENCE):
            body = f"<failure message={quoteattr(c.verdict.value + ': ' + c.detail)}/>"
        elif c.verdict is Verdict.WARN:
            body = f"<skipped message={quoteattr('warn: ' + c.detail)}/>"
        cases.append(
            f'  <testcase classname="cutover.gate.{result.gate}" name={name}>{body}</testcase>'
        )
    failures = sum(c.verdict in (Verdict.FAIL, Verdict.LOW_CONFIDENCE) for c in result.checks)
    head = (
        f'<testsuite name="cutover-gate-{result.gate}" tests="{len(result.checks)}" '
        f'failures="{failures}">'
    )
    return "\n".join(['<?xml version="1.0" encoding="UTF-8"?>', head, *cases, "</testsuite>", ""])
