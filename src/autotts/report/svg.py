"""Small inline-SVG charts for the HTML report: no plotting library, no external files.

:func:`chart` draws lines and/or markers on a linear y axis and a linear or log10
x axis, with ticks, axis labels and a legend; every text is XML-escaped. Series are
drawn in order, so the last is on top. The legend sits under the plot and wraps
into as many rows as its labels need (none is cut short), and the chart scales to
the width of the page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

__all__ = ["PALETTE", "Series", "chart"]

PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
    "#17becf", "#8c564b", "#e377c2", "#bcbd22", "#7f7f7f",
)  # fmt: skip


@dataclass
class Series:
    label: str
    points: Sequence[tuple[float, float]]
    color: str = "#1f77b4"
    dashed: bool = False
    line: bool = True
    marker: bool = True
    width: float = 1.8
    labels: Sequence[str] = field(default_factory=list)  # optional text beside each point
    #: marker radius (the selected controller's are larger)
    radius: float = 3.0
    #: line and marker opacity (context drawn behind the main series is lighter)
    opacity: float = 1.0
    #: False: drawn, but not listed in the legend (a second line of a listed method)
    legend: bool = True


#: Average width of a legend character at font size 11, generous so labels never overlap.
_CHAR_PX = 6.6


def _legend_rows(series: Sequence[Series], room: float) -> list[list[tuple[Series, float]]]:
    rows: list[list[tuple[Series, float]]] = [[]]
    used = 0.0
    for s in series:
        if not s.legend:
            continue
        w = 30 + _CHAR_PX * len(s.label) + 16
        if rows[-1] and used + w > room:
            rows.append([])
            used = 0.0
        rows[-1].append((s, w))
        used += w
    return [r for r in rows if r]


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=10 * mag)
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step + 1e-9) + 1)]


def _log_ticks(lo: float, hi: float) -> list[float]:
    """1-2-5 ticks between 10**lo and 10**hi; plain decades when that gives too many."""
    decades = range(math.floor(lo), math.ceil(hi) + 1)
    for mantissas in ((1, 2, 5), (1,)):
        ticks = [
            m * 10.0**d for d in decades for m in mantissas if lo <= math.log10(m * 10.0**d) <= hi
        ]
        if 2 <= len(ticks) <= 8:
            return ticks
    return [10**e for e in _ticks(lo, hi)]


def _fmt(value: float, log_x: bool) -> str:
    if log_x:
        if value >= 1e6:
            return f"{value / 1e6:.3g}M"
        return f"{value / 1000:.3g}k" if value >= 1000 else f"{value:.3g}"
    return f"{value:g}"


def chart(
    series: Sequence[Series],
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    log_x: bool = False,
    width: int = 1000,
    height: int = 380,
) -> str:
    """An ``<svg>`` element; an empty chart says so instead of failing."""
    pts = [p for s in series for p in s.points]
    left, right, top, bottom = 58, 24, 30, 46
    pw, ph = width - left - right, height - top - bottom
    rows = _legend_rows(series, width - left - right)
    total = height + 18 * len(rows) + (8 if rows else 0)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {total}" '
        # the page's full width, the drawing scaled to it
        'width="100%" style="height:auto;display:block" '
        f'role="img" aria-label="{escape(title)}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{total}" fill="white"/>',
        f'<text x="{left}" y="18" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    if not pts:
        out.append(f'<text x="{left}" y="{top + ph / 2}">no data</text></svg>')
        return "".join(out)

    def tx(x: float) -> float:
        return math.log10(max(x, 1e-9)) if log_x else x

    xs, ys = [tx(p[0]) for p in pts], [p[1] for p in pts]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    padx = (x1 - x0) * 0.06 or 0.5
    pady = (y1 - y0) * 0.1 or 1.0
    x0, x1, y0, y1 = x0 - padx, x1 + padx, y0 - pady, y1 + pady

    def px(x: float) -> float:
        return left + (tx(x) - x0) / (x1 - x0) * pw

    def py(y: float) -> float:
        return top + (1 - (y - y0) / (y1 - y0)) * ph

    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
    xticks = _log_ticks(x0, x1) if log_x else _ticks(x0, x1)
    for t in xticks:
        x = px(t)
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" stroke="#eee"/>')
        out.append(
            f'<text x="{x:.1f}" y="{top + ph + 14}" text-anchor="middle">{_fmt(t, log_x)}</text>'
        )
    for t in _ticks(y0, y1):
        y = py(t)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{t:g}</text>')
    out.append(
        f'<text x="{left + pw / 2}" y="{height - 8}" text-anchor="middle">{escape(xlabel)}</text>'
    )
    out.append(
        f'<text transform="translate(14 {top + ph / 2}) rotate(-90)" text-anchor="middle">'
        f"{escape(ylabel)}</text>"
    )
    for s in series:
        ordered = sorted(s.points) if s.line else list(s.points)
        coords = [(px(x), py(y)) for x, y in ordered]
        dash = ' stroke-dasharray="6 3"' if s.dashed else ""
        fade = f' opacity="{s.opacity:g}"' if s.opacity < 1 else ""
        group = [f'<g class="series" data-label="{escape(s.label)}"{fade}>']
        if s.line and len(coords) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            group.append(
                f'<polyline points="{path}" fill="none" stroke="{s.color}" '
                f'stroke-width="{s.width}"{dash}/>'
            )
        if s.marker:
            for x, y in coords:
                group.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{s.radius:g}" fill="{s.color}" '
                    'stroke="white" stroke-width="0.8"/>'
                )
        for (x, y), text in zip(s.points, s.labels):  # labels go with points as given
            if text:
                group.append(
                    f'<text x="{px(x) + 5:.1f}" y="{py(y) - 6:.1f}" font-size="10" '
                    f'fill="{s.color}">{escape(text)}</text>'
                )
        group.append("</g>")
        out.extend(group)
    for r, row in enumerate(rows):
        ly = height + 6 + 18 * r
        lx = float(left)
        for s, w in row:
            dash = ' stroke-dasharray="6 3"' if s.dashed else ""
            out.append(
                f'<g class="legend-entry"><line x1="{lx:.1f}" y1="{ly}" x2="{lx + 22:.1f}" '
                f'y2="{ly}" stroke="{s.color}" stroke-width="{max(2.0, min(s.width, 3.5))}"{dash}/>'
                f'<text x="{lx + 28:.1f}" y="{ly + 4}">{escape(s.label)}</text></g>'
            )
            lx += w
    out.append("</svg>")
    return "".join(out)
