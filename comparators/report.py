"""Evidence: a versioned JSON document, and Markdown, JUnit XML and HTML views of it.

The JSON document is the source of truth; the other formats are rendered from
it (so ``cutover compare report`` can re-render a saved run). Every sample is
passed through :func:`cutover_common.secrets.redact_value` before it is stored.
"""

from __future__ import annotations

import hashlib
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from comparators import plots
from comparators.explain import NOT_EXPLAINED
from comparators.noise import NoiseFloor
from comparators.result import JUDGED, Category, ComparisonResult
from comparators.rules import CompareOptions
from comparators.verdict import Verdict, VerdictPolicy
from cutover_common.secrets import redact_value

SCHEMA_VERSION = "cutover.compare.evidence/1"


@dataclass(frozen=True, slots=True)
class RunInfo:
    """Who/what/when of a comparison run."""

    run_id: str
    context: str
    control: str
    candidate: str
    partition: str = "0/1"
    plan_hash: str | None = None
    generated_at: datetime | None = None
    window_seconds: float | None = None  # keys of this look-back only; None: every key


def plan_hash(data: bytes) -> str:
    """``sha256:<hex>`` of the plan file's bytes."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def options_summary(options: CompareOptions) -> dict[str, Any]:
    return {
        "key": options.key,
        "ignore": list(options.ignore),
        "decimals": list(options.decimals),
        "tolerances": {t.path: str(t.absolute) for t in options.tolerances},
        "truncate": {p: t.unit for t in options.truncate for p in t.paths},
        "case_insensitive": list(options.case_insensitive),
        "unordered": list(options.unordered),
        "normalisers": [n.name for n in options.normalisers],
        "settle_seconds": options.settle.total_seconds(),
        "explain_limit": options.explain_limit,
    }


def _clean(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def evidence(
    result: ComparisonResult,
    verdict: Verdict,
    *,
    policy: VerdictPolicy,
    info: RunInfo,
    rules: dict[str, Any],
    noise: NoiseFloor | None = None,
) -> dict[str, Any]:
    """The versioned evidence document (JSON-ready, secrets redacted)."""
    at = info.generated_at or datetime.now(UTC)
    doc = {
        "schema_version": SCHEMA_VERSION,
        "run_id": info.run_id,
        "context": info.context,
        "generated_at": at.isoformat(),
        "plan_hash": info.plan_hash,
        "partition": info.partition,
        "window_seconds": info.window_seconds,
        "sources": {"control": info.control, "candidate": info.candidate},
        "rules": rules,
        "thresholds": policy.to_dict(),
        "noise": (noise or NoiseFloor(policy.noise_floor)).to_dict(),
        "verdict": verdict.to_dict(),
        "figures": {
            "settled": result.settled,
            "matched": result.matched,
            "pending": result.pending,
            "match_rate": _clean(result.match_rate),
            "wilson_lower": verdict.wilson_lower,
            "wilson_upper": verdict.wilson_upper,
            "adjusted_match_rate": verdict.adjusted_match_rate,
            "invariant_violations": result.violation_total,
        },
        "counts": {str(c): result.count(c) for c in Category},
        "differing_paths": dict(result.paths),
        "not_explained": {
            "keys": dict(result.paths).get(NOT_EXPLAINED, 0),
            "explain_limit": rules.get("explain_limit"),
        },
        "invariants": dict(result.violations),
        "result": result.to_dict(),
    }
    return dict(redact_value(doc))


def not_explained_line(doc: dict[str, Any]) -> str | None:
    """``N differing keys not explained field by field (explain_limit L)`` when the run left
    keys unexplained (:data:`comparators.explain.NOT_EXPLAINED`), else ``None``."""
    section = doc.get("not_explained") or {}
    n = int(section.get("keys") or 0)
    if not n:
        return None
    noun = "key" if n == 1 else "keys"
    limit = section.get("explain_limit")
    return f"{n:,} differing {noun} not explained field by field (explain_limit {limit})"


def _window(doc: dict[str, Any]) -> str:
    seconds = doc.get("window_seconds")
    return f"keys of the last {seconds:g} s" if seconds else "every key on record"


def markdown(doc: dict[str, Any]) -> str:
    """A short Markdown summary (for PR comments, CI job summaries)."""
    v, f = doc["verdict"], doc["figures"]
    lines = [
        f"## Comparison `{doc['context']}` — **{v['status'].upper()}**",
        "",
        f"run `{doc['run_id']}` · partition {doc['partition']} · {_window(doc)} · "
        f"{doc['generated_at']}",
        "",
        "| figure | value |",
        "|---|---|",
        f"| settled keys | {f['settled']} |",
        f"| matched | {f['matched']} |",
        f"| pending | {f['pending']} |",
        f"| match rate | {_pct(f['match_rate'])} |",
        f"| Wilson lower bound | {_pct(f['wilson_lower'])} |",
        f"| noise floor | {_pct(doc['noise']['rate'])} |",
        f"| adjusted match rate | {_pct(f['adjusted_match_rate'])} |",
        "",
        "| category | keys |",
        "|---|---|",
        *(f"| {k} | {n} |" for k, n in doc["counts"].items()),
    ]
    if v["reasons"]:
        lines += ["", "**Reasons**", "", *(f"- {_md(r)}" for r in v["reasons"])]
    unsupported = (doc.get("comparison") or {}).get("rules_without_sql")
    if unsupported:
        names = ", ".join(f"`{_md(n)}`" for n in unsupported)
        lines += ["", f"Rules without a SQL form (differing keys judged in Python): {names}"]
    unexplained = not_explained_line(doc)
    if unexplained:
        lines += ["", unexplained]
    samples = doc["result"]["samples"]
    if samples:
        lines += ["", "**Samples**", "", "| key | category | paths |", "|---|---|---|"]
        for s in samples:
            paths = ", ".join(d["path"] for d in s["differences"]) or "—"
            lines.append(f"| {_md(s['key'])} | {s['category']} | {_md(paths)} |")
    return "\n".join(lines) + "\n"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.4f} %"


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def junit(doc: dict[str, Any]) -> str:
    """JUnit XML: one test case per check, failing when the check failed."""
    v = doc["verdict"]
    suite = ET.Element("testsuite", name=f"cutover.compare.{doc['context']}")
    cases = [("verdict", v["status"] in ("pass",), "; ".join(v["reasons"]) or v["status"])]
    thresholds = doc["thresholds"]
    cases.append(
        (
            "settled_keys",
            doc["figures"]["settled"] >= thresholds["min_settled_keys"],
            f"{doc['figures']['settled']} settled, min {thresholds['min_settled_keys']}",
        )
    )
    for cat in JUDGED:
        if cat in (Category.MATCH, Category.LATE):
            continue
        limit = thresholds.get(f"max_{cat}")
        n = doc["counts"].get(str(cat), 0)
        cases.append((f"{cat}_keys", limit is None or n <= limit, f"{n} keys, max {limit}"))
    failures = 0
    for name, ok, message in cases:
        case = ET.SubElement(suite, "testcase", classname=f"compare.{doc['context']}", name=name)
        if not ok:
            failures += 1
            ET.SubElement(case, "failure", message=message).text = message
        else:
            ET.SubElement(case, "system-out").text = message
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(failures))
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def figure(value: Any) -> str:
    """A figure rounded for reading: rates (floats below 1) to 4 decimals, other floats to 2,
    integers with thousands separators, ``None`` as ``n/a``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) <= 1 else f"{value:,.2f}"
    return str(value)


def shares(counts: dict[str, int]) -> list[tuple[str, int, int, float]]:
    """``(category, keys, all keys, share)`` of every category but ``match`` holding keys: the
    late, pending, out-of-scope and expired shares that a match rate alone hides."""
    total = sum(counts.values())
    return [(c, n, total, n / total) for c, n in counts.items() if c != "match" and n and total]


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("comparators", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    env.filters["figure"] = figure
    return env


def html(doc: dict[str, Any]) -> str:
    """The HTML report (every value escaped; charts are inline SVG)."""
    result = ComparisonResult.from_dict(doc["result"])
    template = _environment().get_template("report.html.j2")
    return template.render(
        doc=doc,
        shares=shares({str(k): int(v) for k, v in doc["counts"].items()}),
        not_explained=not_explained_line(doc),
        charts=[
            plots.match_rate_line(result),
            plots.categories_chart(result),
            plots.lag_histogram(result),
        ],
    )
