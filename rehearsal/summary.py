"""The rehearsal's terminal summary (Rich) and its final report (JSON + HTML)."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any, TextIO

from jinja2 import Environment, PackageLoader, select_autoescape
from rich.console import Console
from rich.table import Table

from cutover_common.secrets import redact_value
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
            f"{r.phase} {r.name}",
            r.status,
            r.verdict,
            "-" if r.keys is None else str(r.keys),
            "-" if r.match_rate is None else f"{r.match_rate:.4f}",
            "-" if r.lag is None else str(r.lag),
            "-" if r.dead_lettered is None else str(r.dead_lettered),
            str(r.orders_sent),
            "\n".join(f"{f.kind} (survived)" if result.passed else f.kind for f in r.faults) or "-",
        )
    console = Console(file=out, width=140)
    console.print(table)
    verdict = "PASSED: every gate passed on real evidence" if result.passed else "FAILED"
    console.print(f"{verdict} in {result.seconds:.0f}s")
    for r in result.rows:
        for note in r.notes:
            console.print(f"  phase {r.phase}: {note}")
    for sample in result.failing_keys[:5]:
        console.print(
            f"  mismatch: key {sample.get('key')} {sample.get('category')} {describe(sample)}"
        )
    for path in result.report_paths:
        console.print(f"  report: {path}")


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


def _bars(values: list[tuple[str, float]], *, max_value: float, fmt: str, colour: str) -> str:
    width, bar_h, gap = 420, 22, 8
    height = len(values) * (bar_h + gap) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">'
    ]
    for i, (label, value) in enumerate(values):
        y = 5 + i * (bar_h + gap)
        w = 0 if max_value <= 0 else (width - 160) * value / max_value
        parts.append(f'<text x="0" y="{y + 15}" font-size="12">{escape(label)}</text>')
        parts.append(f'<rect x="110" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}"/>')
        parts.append(
            f'<text x="{115 + w:.1f}" y="{y + 15}" font-size="12">{escape(fmt.format(value))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def write_report(result: RehearsalResult, out_dir: Path, description: str) -> list[Path]:
    """Write ``rehearsal.json`` and ``rehearsal.html`` (every value HTML-escaped)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = redact_value({"report_version": REPORT_VERSION, **result.to_dict()})
    json_path = out_dir / "rehearsal.json"
    json_path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))
    env = Environment(
        loader=PackageLoader("rehearsal", "templates"), autoescape=select_autoescape(["html", "j2"])
    )
    gated = [(f"{r.phase} {r.name}", r.match_rate) for r in result.rows if r.match_rate is not None]
    match_svg = _bars([(k, v) for k, v in gated], max_value=1.0, fmt="{:.4f}", colour="#2da44e")
    sent = [(f"{r.phase} {r.name}", float(r.orders_sent)) for r in result.rows]
    traffic_svg = _bars(
        sent, max_value=max([v for _, v in sent] + [1.0]), fmt="{:.0f}", colour="#0969da"
    )
    samples = [
        {"key": x.get("key"), "category": x.get("category"), "detail": describe(x)}
        for x in data.get("failing_keys", [])[:50]
    ]
    html = env.get_template("rehearsal.html.j2").render(
        result=data,
        description=description,
        match_svg=match_svg,
        traffic_svg=traffic_svg,
        samples=samples,
    )
    html_path = out_dir / "rehearsal.html"
    html_path.write_text(html)
    return [html_path, json_path]
