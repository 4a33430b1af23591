"""Small inline SVG charts for the HTML report (no JavaScript, no network).

Every text that goes into the SVG is escaped here; the result is returned as
:class:`markupsafe.Markup` so the autoescaping template embeds it as is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from markupsafe import Markup, escape

from comparators.result import LAG_BOUNDS, MISMATCHES, Category, ComparisonResult

WIDTH, HEIGHT, PAD = 640, 220, 40
_COLOURS = {
    "match": "#2e7d32",
    "late": "#9e9d24",
    "missing": "#c62828",
    "extra": "#6a1b9a",
    "divergent": "#ef6c00",
    "duplicate": "#00838f",
    "pending": "#757575",
    "expired": "#ad1457",
    "out_of_scope": "#90a4ae",
    "inconclusive": "#bcaaa4",
}
_OTHER = "#546e7a"


def _frame(title: str, body: str) -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">'
        f'<text x="{PAD}" y="16" font-size="13" font-family="sans-serif">{escape(title)}</text>'
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - 10}" y2="{HEIGHT - PAD}" '
        'stroke="#999"/>'
        f'<line x1="{PAD}" y1="30" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#999"/>'
    )
    return Markup(head + body + "</svg>")  # noqa: S704 - every text part is escaped above/below


def bars(
    title: str, labels: Sequence[str], values: Sequence[int], colours: Sequence[str]
) -> Markup:
    """A vertical bar chart with a value on top of each bar."""
    top = max(values, default=0) or 1
    slot = (WIDTH - PAD - 20) / max(len(values), 1)
    plot_h = HEIGHT - PAD - 40
    parts: list[str] = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = plot_h * value / top
        x = PAD + 10 + i * slot
        y = HEIGHT - PAD - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" '
            f'fill="{escape(colours[i % len(colours)])}">'
            f"<title>{escape(label)}: {value}</title></rect>"
            f'<text x="{x:.1f}" y="{y - 3:.1f}" font-size="10" '
            f'font-family="sans-serif">{value}</text>'
            f'<text x="{x:.1f}" y="{HEIGHT - PAD + 14}" font-size="10" '
            f'font-family="sans-serif">{escape(label)}</text>'
        )
    return _frame(title, "".join(parts))


def categories_chart(result: ComparisonResult) -> Markup:
    """Keys per mismatch category (plus late and pending)."""
    cats = [Category.LATE, *MISMATCHES, Category.PENDING]
    return bars(
        "Mismatch categories (keys)",
        [str(c) for c in cats],
        [result.count(c) for c in cats],
        [_COLOURS.get(str(c), _OTHER) for c in cats],
    )


def lag_histogram(result: ComparisonResult) -> Markup:
    """Settle lag (candidate produced_at - control produced_at) in seconds."""
    labels = [f"<={b:g}s" for b in LAG_BOUNDS] + [f">{LAG_BOUNDS[-1]:g}s"]
    return bars("Settle lag (keys per bucket)", labels, list(result.lag_histogram), ["#1565c0"])


def match_rate_line(result: ComparisonResult) -> Markup:
    """Match rate per time bucket of the control's produced_at."""
    points = [(start, matched / settled) for start, settled, matched in result.timeline if settled]
    if not points:
        return Markup('<p class="figure">Match rate over time: no settled keys</p>')
    if len(points) == 1:
        settled = sum(s for _, s, _ in result.timeline)
        return Markup(  # noqa: S704 - numbers only
            f'<p class="figure">Match rate {points[0][1]:.4f} over {settled:,} settled keys '
            f"(one interval of {result.bucket_seconds} s: no line to draw)</p>"
        )
    t0, t1 = points[0][0], points[-1][0]
    span = (t1 - t0) or 1
    low = min(*(r for _, r in points), 0.99)
    plot_w, plot_h = WIDTH - PAD - 20, HEIGHT - PAD - 40
    coords = [
        (PAD + 10 + plot_w * (t - t0) / span, HEIGHT - PAD - plot_h * (r - low) / ((1 - low) or 1))
        for t, r in points
    ]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="#2e7d32"/>' for x, y in coords)
    first = datetime.fromtimestamp(t0, UTC).strftime("%H:%M")
    last = datetime.fromtimestamp(t1, UTC).strftime("%H:%M")
    labels = (
        f'<text x="4" y="34" font-size="10" font-family="sans-serif">1.0</text>'
        f'<text x="4" y="{HEIGHT - PAD}" font-size="10" font-family="sans-serif">{low:.3f}</text>'
        f'<text x="{PAD}" y="{HEIGHT - PAD + 14}" font-size="10" font-family="sans-serif">'
        f"{escape(first)}</text>"
        f'<text x="{WIDTH - 60}" y="{HEIGHT - PAD + 14}" font-size="10" font-family="sans-serif">'
        f"{escape(last)}</text>"
    )
    line = f'<polyline fill="none" stroke="#2e7d32" stroke-width="1.5" points="{path}"/>'
    return _frame("Match rate over time (UTC)", labels + line + dots)


# -- time series ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Series:
    """One line of a time-series chart: ``points`` are ``(seconds, value)``; a ``None`` value
    is a gap (not measured), never drawn as zero."""

    name: str
    colour: str
    points: tuple[tuple[float, float | None], ...]


@dataclass(frozen=True, slots=True)
class Marker:
    """A labelled moment on the time axis (a fault injected, a gate evaluated)."""

    at: float
    label: str
    colour: str = "#cf222e"


def _nice_top(value: float) -> float:
    if value <= 0:
        return 1.0
    step = 10.0 ** math.floor(math.log10(value))
    for m in (1, 2, 2.5, 5, 10):
        if value <= m * step:
            return m * step
    return 10 * step


def _tick(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def time_series(
    title: str,
    series: Sequence[Series],
    *,
    span: tuple[float, float],
    markers: Sequence[Marker] = (),
    unit: str = "",
    width: int = 300,
    height: int = 170,
) -> Markup:
    """Lines over ``span`` seconds (x axis labelled in seconds), y from 0 to a round top,
    vertical dashed markers with labels, a legend under the title. Gaps break a line."""
    left, right, top, bottom = 38, 8, 34, 22
    plot_w, plot_h = width - left - right, height - top - bottom
    t0, t1 = span
    width_s = (t1 - t0) or 1.0
    values = [v for s in series for _, v in s.points if v is not None]
    y_top = _nice_top(max(values, default=0.0))

    def x(t: float) -> float:
        return left + plot_w * (min(max(t, t0), t1) - t0) / width_s

    def y(v: float) -> float:
        return top + plot_h * (1 - v / y_top)

    font = 'font-family="sans-serif"'
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f'<text x="2" y="12" font-size="12" font-weight="600" {font}>{escape(title)}</text>',
    ]
    lx = 2
    for s in series:
        parts.append(
            f'<rect x="{lx}" y="19" width="10" height="3" fill="{escape(s.colour)}"/>'
            f'<text x="{lx + 13}" y="24" font-size="10" {font}>{escape(s.name)}</text>'
        )
        lx += 20 + 6 * len(s.name)
    for frac in (0.0, 0.5, 1.0):
        yy = y(y_top * frac)
        parts.append(
            f'<line x1="{left}" y1="{yy:.1f}" x2="{width - right}" y2="{yy:.1f}" '
            f'stroke="#eaeef2"/>'
            f'<text x="{left - 3}" y="{yy + 3:.1f}" font-size="9" text-anchor="end" {font}>'
            f"{escape(_tick(y_top * frac))}{escape(unit) if frac == 1.0 else ''}</text>"
        )
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
        'stroke="#8c959f"/>'
        f'<text x="{left}" y="{height - 6}" font-size="9" {font}>0 s</text>'
        f'<text x="{width - right}" y="{height - 6}" font-size="9" text-anchor="end" {font}>'
        f"{width_s:.0f} s</text>"
    )
    for i, m in enumerate(markers):
        mx = x(m.at)
        parts.append(
            f'<line x1="{mx:.1f}" y1="{top}" x2="{mx:.1f}" y2="{top + plot_h}" '
            f'stroke="{escape(m.colour)}" stroke-dasharray="3,2"><title>{escape(m.label)} at '
            f"{m.at - t0:.0f} s</title></line>"
            f'<text x="{mx + (-2 if mx > left + plot_w / 2 else 2):.1f}" '
            f'y="{top + 9 + 10 * (i % 3)}" font-size="9" '
            f'text-anchor="{"end" if mx > left + plot_w / 2 else "start"}" '
            f'fill="{escape(m.colour)}" {font}>{escape(m.label)}</text>'
        )
    for s in series:
        for run in _runs(s.points):
            coords = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in run)
            if len(run) == 1:
                ((t, v),) = run
                parts.append(
                    f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="2" fill="{escape(s.colour)}"/>'
                )
            else:
                parts.append(
                    f'<polyline fill="none" stroke="{escape(s.colour)}" stroke-width="1.5" '
                    f'points="{coords}"/>'
                )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text part is escaped above


def _runs(points: Sequence[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    """The stretches of consecutive measured points (a ``None`` ends a stretch)."""
    runs: list[list[tuple[float, float]]] = [[]]
    for t, v in points:
        if v is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((t, v))
    return [r for r in runs if r]
