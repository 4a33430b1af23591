"""The rehearsal report's view of a result (pure): the headline derived from the checks,
phase labels, fault rows, each gate's check rows and the per-phase time series.

Works on the report's JSON (``RehearsalResult.to_dict()``), so a saved ``rehearsal.json``
renders the same page again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markupsafe import Markup

from comparators import plots
from phases.evidence import (
    category_shares,
    check_rows,
    fmt_rate,
    fmt_value,
    relative_link,
    wilson_lower_bound,
)
from rehearsal.timeline import phase_ticks, series

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
    views: list[dict[str, Any]] = []
    for gate in row.get("gates", []):
        html = gate.get("evidence_html")
        again = sum(v["gate"] == gate.get("gate") for v in views)
        comparisons = [
            {"name": name.replace("_", " "), "context": ctx, **figures(snap)}
            for name, per in gate.get("snapshots", {}).items()
            for ctx, snap in per.items()
        ]
        views.append(
            {
                "gate": gate.get("gate"),
                "title": f"{gate.get('gate')} ({again + 1})" if again else gate.get("gate"),
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
        if any(v is not None for line_ in lines for _, v in line_.points)  # nothing measured
    ]


def traffic_rows(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The traffic checks of a phase, one row per check over its bursts: the worst verdict,
    and the detail of each burst that did not pass (``burst 2: 360 valid; 8 did not``)."""
    rows: dict[str, dict[str, Any]] = {}
    bursts: dict[str, int] = {}
    for c in checks:
        name = str(c.get("name"))
        n = bursts[name] = bursts.get(name, 0) + 1
        row = rows.setdefault(name, {"name": name, "verdict": PASSING, "bursts": 0, "failed": []})
        row["bursts"] = n
        if c.get("verdict") != PASSING:
            row["verdict"] = str(c.get("verdict"))
            row["failed"].append(f"burst {n}: {c.get('detail')}")
    for row in rows.values():
        if row["bursts"] == 1:
            row["failed"] = [f.removeprefix("burst 1: ") for f in row["failed"]]
    return list(rows.values())


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
                "traffic": traffic_rows(row.get("traffic_checks", [])),
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
