"""Small inline SVG charts for the HTML report: horizontal bars, a line over time, a histogram.

Plain strings, no dependency: the report is one self-contained HTML file an operator can mail.
Every chart has a title, labelled axes and a `<title>` tooltip per mark with the exact value.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from html import escape

FONT = 'font-family="system-ui, sans-serif" font-size="12"'
POS, NEG, LINE, GRID = "#2f7ed8", "#d9534f", "#2f7ed8", "#e5e5e5"


def fmt(v: float) -> str:
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 0.1 or a == 0:
        return f"{v:.2f}"
    return f"{v:.3g}"


def _frame(width: int, height: int, title: str, body: list[str]) -> str:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" {FONT}>'
    )
    return "\n".join([head, f'<text x="8" y="18" font-weight="bold">{escape(title)}</text>', *body, "</svg>"])


def empty(title: str, width: int = 640) -> str:
    return _frame(width, 60, title, ['<text x="8" y="44" fill="#888">no data in this window</text>'])


def bar_chart(items: Sequence[tuple[str, float]], title: str, unit: str = "", width: int = 640) -> str:
    """Horizontal bars, one per (label, value); negative values extend left of a zero axis."""
    if not items:
        return empty(title, width)
    label_w, bar_h, top = 150, 22, 30
    height = top + bar_h * len(items) + 24
    lo, hi = min(0.0, *(v for _, v in items)), max(0.0, *(v for _, v in items))
    span = (hi - lo) or 1.0
    plot_w = width - label_w - 90
    x0 = label_w + (0 - lo) / span * plot_w
    body = [f'<line x1="{x0:.1f}" y1="{top - 4}" x2="{x0:.1f}" y2="{height - 20}" stroke="#999"/>']
    for i, (label, v) in enumerate(items):
        y = top + i * bar_h
        w = abs(v) / span * plot_w
        x = x0 if v >= 0 else x0 - w
        body.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{escape(label)}</text>')
        body.append(
            f'<rect x="{x:.1f}" y="{y + 3}" width="{max(w, 0.5):.1f}" height="{bar_h - 6}" '
            f'fill="{POS if v >= 0 else NEG}"><title>{escape(label)}: {fmt(v)} {escape(unit)}</title></rect>'
        )
        tx = (x + w + 4) if v >= 0 else (x - 4)
        anchor = "start" if v >= 0 else "end"
        body.append(f'<text x="{tx:.1f}" y="{y + 15}" text-anchor="{anchor}">{fmt(v)} {escape(unit)}</text>')
    return _frame(width, height, title, body)


def _ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    if hi <= lo:
        return [lo]
    step = 10 ** math.floor(math.log10((hi - lo) / n))
    for m in (1, 2, 5, 10):
        if (hi - lo) / (step * m) <= n:
            step *= m
            break
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def line_chart(
    points: Sequence[tuple[float, float]],
    title: str,
    unit: str = "",
    *,
    width: int = 640,
    height: int = 240,
    time_axis: bool = True,
) -> str:
    """A line through (x, y) points; with `time_axis`, x is epoch milliseconds shown as UTC times."""
    if not points:
        return empty(title, width)
    left, right, top, bottom = 70, 16, 30, 34
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x_lo, x_hi = min(xs), max(xs)
    y_lo, y_hi = min(0.0, *ys), max(0.0, *ys)
    x_span, y_span = (x_hi - x_lo) or 1.0, (y_hi - y_lo) or 1.0
    pw, ph = width - left - right, height - top - bottom

    def px(x: float) -> float:
        return left + (x - x_lo) / x_span * pw

    def py(y: float) -> float:
        return top + ph - (y - y_lo) / y_span * ph

    body = []
    for t in _ticks(y_lo, y_hi):
        body.append(
            f'<line x1="{left}" y1="{py(t):.1f}" x2="{width - right}" y2="{py(t):.1f}" stroke="{GRID}"/>'
        )
        body.append(f'<text x="{left - 6}" y="{py(t) + 4:.1f}" text-anchor="end">{fmt(t)}</text>')
    body.append(f'<line x1="{left}" y1="{py(0):.1f}" x2="{width - right}" y2="{py(0):.1f}" stroke="#999"/>')
    for x in (x_lo, x_hi):
        label = dt.datetime.fromtimestamp(x / 1000, dt.UTC).strftime("%H:%M:%S") if time_axis else fmt(x)
        anchor = "start" if x == x_lo else "end"
        body.append(f'<text x="{px(x):.1f}" y="{height - 12}" text-anchor="{anchor}">{label}</text>')
    path = " ".join(f"{'M' if i == 0 else 'L'}{px(x):.1f},{py(y):.1f}" for i, (x, y) in enumerate(points))
    body.append(f'<path d="{path}" fill="none" stroke="{LINE}" stroke-width="2"/>')
    for x, y in points[-200:]:
        body.append(
            f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.5" fill="{LINE}">'
            f"<title>{fmt(y)} {escape(unit)}</title></circle>"
        )
    body.append(f'<text x="{width - right}" y="18" text-anchor="end" fill="#666">{escape(unit)}</text>')
    return _frame(width, height, title, body)


def histogram(
    values: Sequence[float],
    title: str,
    unit: str = "",
    *,
    bins: int = 20,
    width: int = 640,
    height: int = 220,
) -> str:
    """Counts of `values` in equal-width bins."""
    if not values:
        return empty(title, width)
    lo, hi = min(values), max(values)
    if hi == lo:
        hi = lo + 1.0
    size = (hi - lo) / bins
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / size))] += 1
    left, top, bottom = 50, 30, 34
    pw, ph = width - left - 16, height - top - bottom
    peak = max(counts)
    bw = pw / bins
    body = [
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{peak}</text>',
        f'<text x="{left - 6}" y="{top + ph}" text-anchor="end">0</text>',
    ]
    for i, c in enumerate(counts):
        h = c / peak * ph
        a, b = lo + i * size, lo + (i + 1) * size
        body.append(
            f'<rect x="{left + i * bw + 1:.1f}" y="{top + ph - h:.1f}" width="{bw - 2:.1f}" height="{h:.1f}" '
            f'fill="{POS}"><title>{fmt(a)}-{fmt(b)} {escape(unit)}: {c}</title></rect>'
        )
    body.append(f'<text x="{left}" y="{height - 12}">{fmt(lo)} {escape(unit)}</text>')
    body.append(f'<text x="{width - 16}" y="{height - 12}" text-anchor="end">{fmt(hi)} {escape(unit)}</text>')
    return _frame(width, height, title, body)
