"""The rehearsal's terminal summary (Rich) and its final report (JSON + HTML)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from rich.console import Console
from rich.table import Table

from comparators import plots
from cutover_common.secrets import redact_value
from phases.evidence import (
    VERDICT_ORDER,
    category_shares,
    check_rows,
    fmt_rate,
    fmt_value,
    relative_link,
    wilson_lower_bound,
)
from rehearsal.run import RehearsalResult
from rehearsal.timeline import phase_ticks, series

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
    console.print(f"{verdict}: {head.text} in {result.seconds:.0f}s")
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


# -- the view of a result (pure) ----------------------------------------------------------------
PASSING = "pass"


@dataclass(frozen=True, slots=True)
class Headline:
    """The report's first line: ``state`` is pass (every check passed), warn (the gates let
    the rehearsal through, but some check did not pass) or fail."""

    state: str
    text: str
    not_passing: tuple[str, ...] = ()


def phase_label(phase: int, name: str) -> str:
    """``3 · dual-write``; a step inside a phase (numbered ``<phase>0``, e.g. 40 for the
    rollback drill of phase 4) carries its phase's number: ``4 · rollback drill``."""
    number = phase // 10 if phase >= 10 else phase
    return f"{number} · {name}"


def not_passing(data: dict[str, Any]) -> list[str]:
    """Every check of every gate (and every traffic check) that did not pass, as
    ``phase 4 · async: order.consumer_lag: warn — detail``."""
    found: list[str] = []
    for row in data.get("phases", []):
        label = phase_label(row["phase"], row["name"])
        checks = [c for g in row.get("gates", []) for c in g.get("checks", [])]
        checks += [{**c, "name": f"traffic: {c['name']}"} for c in row.get("traffic_checks", [])]
        for c in checks:
            if c.get("verdict") != PASSING:
                ctx = f"{c['context']}." if c.get("context") else ""
                found.append(f"phase {label}: {ctx}{c['name']}: {c['verdict']} — {c['detail']}")
        if not row.get("gates") and row.get("verdict") not in (PASSING, "-"):
            found.append(f"phase {label}: gate verdict {row['verdict']}")
    return found


def headline(data: dict[str, Any]) -> Headline:
    """Green only when the rehearsal passed and every check of every gate passed."""
    missed = tuple(not_passing(data))
    if data.get("error"):
        return Headline("fail", f"failed: {data['error']}", missed)
    if not data.get("passed"):
        stopped = [
            phase_label(r["phase"], r["name"])
            for r in data.get("phases", [])
            if r.get("status", "").startswith("gate ") and r.get("status") != "gate passed"
        ]
        where = f" at phase {stopped[0]}" if stopped else ""
        return Headline("fail", f"failed{where}", missed)
    if missed:
        n = len(missed)
        return Headline("warn", f"gates passed, but {n} check{'s' * (n != 1)} did not", missed)
    return Headline("pass", "every check of every gate passed", missed)


def fault_rows(faults: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Faults of one phase, one row per kind and detail, with how many times it was injected
    (the same fault injected in two bursts of a phase is one row, injected twice)."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for f in faults:
        key = (str(f.get("kind")), str(f.get("detail")))
        row = rows.setdefault(key, {"kind": key[0], "detail": key[1], "times": 0})
        row["times"] += int(f.get("injected", 1) or 1)
    return list(rows.values())


def lag_text(row: dict[str, Any]) -> str:
    """``12 msgs · 340 ms`` from the consumer-lag check of the phase's last gate."""
    for gate in reversed(row.get("gates", [])):
        for c in gate.get("checks", []):
            observed = c.get("observed")
            if c.get("name") == "consumer_lag" and isinstance(observed, dict):
                return f"{fmt_value(observed.get('messages'))} msgs · {fmt_value(observed.get('ms'))} ms"
    return "-" if row.get("lag") is None else f"{row['lag']:,} msgs"


def gate_views(row: dict[str, Any], page_dir: Path) -> list[dict[str, Any]]:
    """Each gate evaluation of a phase: its check rows, comparisons and a relative link."""
    views = []
    for gate in row.get("gates", []):
        html = gate.get("evidence_html")
        comparisons = [
            {"name": name.replace("_", " "), "context": ctx, **figures(snap)}
            for name, per in gate.get("snapshots", {}).items()
            for ctx, snap in per.items()
        ]
        views.append(
            {
                "gate": gate.get("gate"),
                "verdict": gate.get("verdict"),
                "rows": check_rows(gate.get("checks", []), gate.get("snapshots", {})),
                "comparisons": comparisons,
                "link": relative_link(html, page_dir) if html else None,
            }
        )
    return views


def figures(snap: dict[str, Any]) -> dict[str, Any]:
    """Match rate, its Wilson lower bound and the shares a match rate hides."""
    settled, matched = int(snap.get("settled_keys", 0)), int(snap.get("matched", 0))
    low = wilson_lower_bound(matched, settled)
    return {
        "settled": settled,
        "match_rate": fmt_rate(snap.get("match_rate")) if settled else "n/a",
        "wilson": "n/a" if low is None else f"{low:.4f}",
        "shares": [
            f"{cat} {n:,}/{total:,} ({share * 100:.1f} %)"
            for cat, n, total, share in category_shares(snap.get("counts") or {})
        ],
    }


TIMED_PHASES = (3, 4, 40, 5)
_C = {"p50": "#0969da", "p99": "#8250df", "lag": "#bf8700", "dlq": "#cf222e", "ok": "#1a7f37"}


def phase_charts(timeline: dict[str, Any], phase: int) -> list[Markup]:
    """The time series of one phase: lag in ms (end-to-end p50/p99, consumer), lag in
    messages and the dead-letter topic, keys matched and not, requests and errors; the
    faults injected during the phase marked on each."""
    ticks = phase_ticks(timeline, phase)
    if not ticks:
        return []
    every = float(timeline.get("interval_s", 3.0))
    span = (float(ticks[0]["at"]) - every, float(ticks[-1]["at"]))
    marks = [
        plots.Marker(float(m["at"]), str(m["label"]))
        for m in timeline.get("marks", [])
        if m.get("phase") == phase
    ]

    compare_every = every * int(timeline.get("compare_every", 1))

    def line(name: str, colour: str, field: str) -> plots.Series:
        return plots.Series(name, colour, series(ticks, field, interval=every))

    def sparse(name: str, colour: str, field: str) -> plots.Series:
        points = series(ticks, field, interval=compare_every, sparse=True)
        return plots.Series(name, colour, points)

    charts = [
        (
            "Lag (ms)",
            [
                line("e2e p50", _C["p50"], "e2e_p50_ms"),
                line("e2e p99", _C["p99"], "e2e_p99_ms"),
                line("consumer", _C["lag"], "lag_ms"),
            ],
        ),
        (
            "Backlog (messages)",
            [
                line("consumer lag", _C["lag"], "lag_messages"),
                line("DLQ", _C["dlq"], "dead_lettered"),
            ],
        ),
        (
            "Keys compared in the phase",
            [
                sparse("matched", _C["ok"], "matched"),
                sparse("not matched", _C["dlq"], "mismatched"),
            ],
        ),
        (
            f"Requests per {every:g} s",
            [line("requests", _C["p50"], "requests"), line("errors", _C["dlq"], "errors")],
        ),
    ]
    return [
        plots.time_series(title, lines, span=span, markers=marks, width=290)
        for title, lines in charts
    ]


def phase_views(data: dict[str, Any], page_dir: Path) -> list[dict[str, Any]]:
    """Each phase as the page shows it (rows in the order the rehearsal ran them)."""
    timeline = data.get("timeline") or {}
    views = []
    for row in data.get("phases", []):
        views.append(
            {
                "label": phase_label(row["phase"], row["name"]),
                "row": row,
                "lag": lag_text(row),
                "faults": fault_rows(row.get("faults", [])),
                "gates": gate_views(row, page_dir),
                "traffic": row.get("traffic_checks", []),
                "charts": phase_charts(timeline, row["phase"])
                if row["phase"] in TIMED_PHASES
                else [],
                "shares": _last_shares(row),
            }
        )
    return views


def _last_shares(row: dict[str, Any]) -> list[str]:
    for gate in reversed(row.get("gates", [])):
        for per in gate.get("snapshots", {}).values():
            for snap in per.values():
                return list(figures(snap)["shares"])
    return []


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
