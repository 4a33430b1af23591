"""Small inline SVG charts for the HTML report (no JavaScript, no network).

Every text that goes into the SVG is escaped here; the result is returned as
:class:`markupsafe.Markup` so the autoescaping template embeds it as is.
"""

from __future__ import annotations

from collections.abc import Sequence
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
}


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
        [_COLOURS[str(c)] for c in cats],
    )


def lag_histogram(result: ComparisonResult) -> Markup:
    """Settle lag (candidate produced_at - control produced_at) in seconds."""
    labels = [f"<={b:g}s" for b in LAG_BOUNDS] + [f">{LAG_BOUNDS[-1]:g}s"]
    return bars("Settle lag (keys per bucket)", labels, list(result.lag_histogram), ["#1565c0"])


def match_rate_line(result: ComparisonResult) -> Markup:
    """Match rate per time bucket of the control's produced_at."""
    points = [(start, matched / settled) for start, settled, matched in result.timeline if settled]
    if not points:
        return _frame("Match rate over time (no settled keys)", "")
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
