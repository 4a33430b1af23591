"""The rehearsal's terminal summary (Rich) and its final report (JSON + HTML)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

from jinja2 import Environment, PackageLoader, select_autoescape
from rich.console import Console
from rich.table import Table

from cutover_common.secrets import redact_value
from phases.evidence import VERDICT_ORDER, fmt_value
from rehearsal.report_view import fault_rows, headline, phase_label, phase_views
from rehearsal.run import RehearsalResult

REPORT_VERSION = 1


def render_table(result: RehearsalResult, out: TextIO) -> None:
    """One row per phase: verdict, keys compared, match rate, lag, dead-lettered, faults."""
    table = Table(title=f"cutover rehearse — scenario {result.scenario} (run {result.run_id})")
    for col in (
        "phase",
        "status",
        "verdict",
        "keys",
        "match rate",
        "lag",
        "DLQ",
        "sent",
        "faults injected",
    ):
        table.add_column(col)
    for r in result.rows:
        table.add_row(
            phase_label(r.phase, r.name),
            r.status,
            r.verdict,
            "-" if r.keys is None else str(r.keys),
            "-" if r.match_rate is None else f"{r.match_rate:.4f}",
            "-" if r.lag is None else str(r.lag),
            "-" if r.dead_lettered is None else str(r.dead_lettered),
            str(r.orders_sent),
            "\n".join(
                fault_text(f, survived=result.passed)
                for f in fault_rows([_fault(x) for x in r.faults])
            )
            or "-",
        )
    console = Console(file=out, width=140)
    console.print(table)
    head = headline(result.to_dict())
    verdict = "PASSED" if result.passed else "FAILED"
    console.print(f"{verdict}: {head.text} ({result.seconds:.0f} s)")
    for line in head.not_passing:
        console.print(f"  not passed: {line}")
    for r in result.rows:
        for note in r.notes:
            console.print(f"  phase {r.phase}: {note}")
    for sample in result.failing_keys[:5]:
        console.print(
            f"  mismatch: key {sample.get('key')} {sample.get('category')} {describe(sample)}"
        )
    for path in result.report_paths:
        console.print(f"  report: {path}")


def fault_text(fault: dict[str, Any], *, survived: bool) -> str:
    """``downstream_errors`` with how many times, and ``(survived)``, for the terminal."""
    times = f" {TIMES}{fault['times']}" if fault["times"] > 1 else ""
    return f"{fault['kind']}{times}" + (" (survived)" if survived else "")


TIMES = "\u00d7"


def _fault(f: Any) -> dict[str, Any]:
    return {"kind": f.kind, "detail": f.detail, "injected": f.injected}


def diff_paths(sample: dict[str, Any]) -> list[str]:
    """The field paths a mismatch sample differs in (``total``, ``payment.amount``...)."""
    return [str(d.get("path")) for d in sample.get("differences", []) or []]


def describe(sample: dict[str, Any]) -> str:
    """``total: 186.25 (sync) vs 186.3 (event); ...`` for a divergent sample."""
    parts = [
        f"{d.get('path')}: {d.get('control')} (sync) vs {d.get('candidate')} (event)"
        for d in sample.get("differences", []) or []
    ]
    return "; ".join(parts) or str(sample.get("category", ""))


def write_report(result: RehearsalResult, out_dir: Path, description: str) -> list[Path]:
    """Write ``rehearsal.json`` and ``rehearsal.html`` (every value HTML-escaped)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = redact_value(
        {"report_version": REPORT_VERSION, **result.to_dict(), "description": description}
    )
    json_path = out_dir / "rehearsal.json"
    json_path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))
    html_path = out_dir / "rehearsal.html"
    html_path.write_text(render_html(data, out_dir))
    return [html_path, json_path]


def render_html(data: dict[str, Any], out_dir: Path) -> str:
    """The HTML page of a report's JSON (``rehearsal.json``), links relative to ``out_dir``
    (so a saved run re-renders: ``render_html(json.loads(path.read_text()), path.parent)``)."""
    env = Environment(
        loader=PackageLoader("rehearsal", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
    )
    env.globals["known_verdicts"] = VERDICT_ORDER
    env.filters["fmt"] = fmt_value
    samples = [
        {"key": x.get("key"), "category": x.get("category"), "detail": describe(x)}
        for x in data.get("failing_keys", [])[:50]
    ]
    return env.get_template("rehearsal.html.j2").render(
        result=data,
        description=data.get("description", ""),
        headline=headline(data),
        phases=phase_views(data, out_dir),
        samples=samples,
        notes=[
            (phase_label(r["phase"], r["name"]), n)
            for r in data["phases"]
            for n in r.get("notes", [])
        ],
    )
