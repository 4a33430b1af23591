"""Evidence bundles: every gate evaluation leaves JSON + HTML + JUnit XML under the reports dir.

The JSON is the machine-readable record (thresholds, figures, connector and lag snapshots,
plan digest, everything redacted); its sha256 goes into the audit row. The HTML page is
rendered from it (:func:`render_html`) through a pure view of the checks (:func:`check_rows`:
measured, threshold, signed margin, Wilson lower bound of a match rate, detail only where a
check did not pass), which the rehearsal report shows too.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from jinja2 import Environment, PackageLoader, select_autoescape

from comparators.verdict import wilson_interval
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
    env = Environment(
        loader=PackageLoader("phases", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
    )
    # evidence.json is written with default=str; the page shows the same values (mismatch
    # samples of SQL outcome sources hold datetimes and decimals)
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "default": str}
    env.filters["fmt"] = fmt_value
    env.filters["rate"] = fmt_rate
    env.globals["known_verdicts"] = VERDICT_ORDER
    return env


# -- the view of a gate's checks (pure; the rehearsal report shows the same rows) --------------
VERDICT_ORDER = ("pass", "warn", "low-confidence", "unknown", "inconclusive", "fail")
"""Every verdict a page colours; any other string is shown as is, uncoloured."""

_RATE_COUNTS = re.compile(r"(\d+)/(\d+) matched")


def fmt_value(value: Any, like: Any = None) -> str:
    """A measured value or threshold, rounded for reading: integers (and whole floats) with
    thousands separators, rates to 4 decimals, other floats to 1; a mapping as
    ``name value · name value``; ``None`` as ``n/a``; booleans as yes/no. A value measured
    against a rate threshold (``like``, a float between 0 and 1) is a rate: ``1.0000``."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if _is_rate(like) or (0 < abs(value) < 1):
            return f"{value:.4f}"
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.1f}"
    if isinstance(value, Mapping):
        hints = like if isinstance(like, Mapping) else {}
        return " · ".join(f"{k} {fmt_value(v, hints.get(k))}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(fmt_value(v) for v in value) or "none"
    return str(value)


def fmt_rate(value: Any) -> str:
    """A rate to 4 decimals (``1.0000``), ``n/a`` when there is none."""
    return fmt_value(value, like=0.5)


def _is_rate(like: Any) -> bool:
    return isinstance(like, float) and 0 < like < 1


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if isinstance(value, float) and math.isnan(value) else float(value)


def margin(observed: Any, threshold: Any) -> str:
    """Measured minus threshold, signed, in the check's unit (``+0.0030``, ``\u22129,800``);
    per name for mappings (``messages \u2212150 · ms \u22129,800``); blank where either side
    is not a number."""
    if isinstance(observed, Mapping) and isinstance(threshold, Mapping):
        parts = [(k, margin(observed.get(k), t)) for k, t in threshold.items()]
        return " · ".join(f"{k} {m}" for k, m in parts if m)
    measured, limit = _number(observed), _number(threshold)
    if measured is None or limit is None:
        return ""
    delta = measured - limit
    sign = "+" if delta >= 0 else "\u2212"
    if isinstance(observed, int) and isinstance(threshold, int):
        return f"{sign}{abs(delta):,.0f}"
    return sign + fmt_value(abs(delta), like=threshold)


def wilson_lower_bound(matched: int, settled: int) -> float | None:
    """The 95 % Wilson lower bound of ``matched / settled``; ``None`` without settled keys."""
    return wilson_interval(matched, settled)[0] if settled > 0 else None


def rate_counts(check: Mapping[str, Any], snapshots: Mapping[str, Any]) -> tuple[int, int] | None:
    """``(matched, settled)`` behind a ``*_match_rate`` check: from the gate's comparison
    snapshot of the check's context, else from the check's own ``n/m matched`` detail."""
    name = str(check.get("name", ""))
    if not name.endswith("_match_rate"):
        return None
    snap = (snapshots.get(name.removesuffix("_match_rate")) or {}).get(check.get("context"))
    if isinstance(snap, Mapping) and "matched" in snap and "settled_keys" in snap:
        return int(snap["matched"]), int(snap["settled_keys"])
    found = _RATE_COUNTS.search(str(check.get("detail", "")))
    return (int(found.group(1)), int(found.group(2))) if found else None


@dataclass(frozen=True, slots=True)
class CheckRow:
    """One check as a page shows it: every value already formatted."""

    context: str
    name: str
    verdict: str
    measured: str
    threshold: str
    margin: str
    wilson: str
    detail: str
    kind: str = ""


def check_row(check: Mapping[str, Any], snapshots: Mapping[str, Any]) -> CheckRow:
    """The row of one check (``Check.to_dict()``). A passing row carries no detail: the
    detail of a check is written for when it fails (the JSON keeps it either way)."""
    counts = rate_counts(check, snapshots)
    low = wilson_lower_bound(*counts) if counts else None
    verdict = str(check.get("verdict", ""))
    return CheckRow(
        context=str(check.get("context") or ""),
        name=str(check.get("name", "")),
        verdict=verdict,
        measured=fmt_value(check.get("observed"), like=check.get("threshold")),
        threshold=fmt_value(check.get("threshold")),
        margin=margin(check.get("observed"), check.get("threshold")),
        wilson="" if low is None or counts is None else f"{low:.4f}",
        detail="" if verdict == "pass" else str(check.get("detail", "")),
        kind=str(check.get("kind") or ""),
    )


def check_rows(
    checks: Sequence[Mapping[str, Any]], snapshots: Mapping[str, Any] | None = None
) -> list[CheckRow]:
    return [check_row(c, snapshots or {}) for c in checks]


def category_shares(counts: Mapping[str, int]) -> list[tuple[str, int, int, float]]:
    """``(category, keys, of all keys, share)`` for each category but ``match`` that holds
    keys: the late, pending, out-of-scope and expired shares a match rate hides."""
    total = sum(int(n) for n in counts.values())
    return [
        (str(c), int(n), total, int(n) / total)
        for c, n in counts.items()
        if c != "match" and int(n) > 0 and total > 0
    ]


def relative_link(target: str | Path, page_dir: str | Path) -> str:
    """``target`` as a link relative to the folder of the page that links to it."""
    return Path(os.path.relpath(Path(target).resolve(), Path(page_dir).resolve())).as_posix()


def comparison_views(doc: Mapping[str, Any], page_dir: Path) -> list[dict[str, Any]]:
    """Per compared context: its figures, category shares and relative report links."""
    views = []
    for snap_name in ("comparison", "reverse_comparison"):
        for context, snap in (doc.get("snapshots", {}).get(snap_name) or {}).items():
            if not isinstance(snap, Mapping):
                continue
            low = wilson_lower_bound(int(snap.get("matched", 0)), int(snap.get("settled_keys", 0)))
            views.append(
                {
                    "name": snap_name.replace("_", " "),
                    "context": context,
                    "verdict": snap.get("verdict"),
                    "settled": int(snap.get("settled_keys", 0)),
                    "matched": int(snap.get("matched", 0)),
                    "match_rate": snap.get("match_rate"),
                    "wilson": low,
                    "shares": category_shares(snap.get("counts") or {}),
                    "reports": [
                        relative_link(p, page_dir)
                        for p in snap.get("report_paths", [])
                        if str(p).endswith(".html")
                    ],
                }
            )
    return views


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
    html_path.write_text(render_html(document, folder))
    junit_path = folder / "junit.xml"
    junit_path.write_text(junit_xml(result))
    return EvidenceRef(str(json_path), sha256_file(json_path), str(html_path), str(junit_path))


def render_html(document: Mapping[str, Any], folder: Path) -> str:
    """The evidence page of a bundle's JSON document, links relative to ``folder`` (a saved
    bundle re-renders: ``render_html(json.loads(path.read_text()), path.parent)``)."""
    template = _env().get_template("evidence.html.j2")
    return template.render(
        doc=document,
        verdict=str(document.get("verdict", "")),
        rows=check_rows(document.get("checks", []), document.get("snapshots", {})),
        comparisons=comparison_views(document, folder),
    )


_JUNIT_FAILURES = (Verdict.FAIL, Verdict.LOW_CONFIDENCE, Verdict.INCONCLUSIVE, Verdict.UNKNOWN)


def junit_xml(result: GateResult) -> str:
    """One test case per check; fail, low-confidence, unknown and inconclusive are
    failures (a check that was not measured never passes), warn is skipped-with-message."""
    cases = []
    for c in result.checks:
        name = quoteattr(f"{c.context + '.' if c.context else ''}{c.name}")
        body = ""
        if c.verdict in _JUNIT_FAILURES:
            body = f"<failure message={quoteattr(c.verdict.value + ': ' + c.detail)}/>"
        elif c.verdict is Verdict.WARN:
            body = f"<skipped message={quoteattr('warn: ' + c.detail)}/>"
        cases.append(
            f'  <testcase classname="cutover.gate.{result.gate}" name={name}>{body}</testcase>'
        )
    failures = sum(c.verdict in _JUNIT_FAILURES for c in result.checks)
    head = (
        f'<testsuite name="cutover-gate-{result.gate}" tests="{len(result.checks)}" '
        f'failures="{failures}">'
    )
    return "\n".join(['<?xml version="1.0" encoding="UTF-8"?>', head, *cases, "</testsuite>", ""])
