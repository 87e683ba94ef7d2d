"""Plotting: accuracy-vs-tokens curves and the helpers every figure uses.

Needs the ``plot`` extra (``pip install 'autotts[plot]'``); matplotlib is imported
only when a figure is drawn, with the Agg backend (files only, never a display).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autotts.errors import UsageError
from autotts.extras import needs

__all__ = [
    "CurvePoint",
    "annotate_betas",
    "check_figure_path",
    "draw_curve",
    "plot_curves",
    "pyplot",
    "save_figure",
    "short_number",
    "token_axis",
]

FIGURE_SUFFIXES = {".png", ".pdf", ".svg"}


@dataclass(frozen=True)
class CurvePoint:
    """One evaluated setting: mean tokens, accuracy (%), its 95 % interval and β (if any)."""

    tokens: float
    accuracy: float
    low: float | None = None
    high: float | None = None
    beta: float | None = None


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend, or a one-line error naming the extra."""
    with needs("plot", "plotting"):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    return plt


def check_figure_path(out: Path, option: str = "--plot") -> None:
    """Refuse an unknown suffix or a folder before any work is done."""
    if out.is_dir():
        raise UsageError(f"{option} {out} is a folder; give a file name")
    if out.suffix.lower() not in FIGURE_SUFFIXES:
        raise UsageError(f"{option} must end in .png, .pdf or .svg, got {out.name}")


def save_figure(fig: Any, out: Path) -> None:
    """Write ``fig`` to ``out`` atomically (a crash leaves no half-written file) and close it.

    PNGs are stored with a 256-colour palette: a third of the size, the same to the eye.
    """
    plt = pyplot()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp{out.suffix}")
        try:
            if out.suffix.lower() == ".png":
                _save_png(fig, tmp)
            else:
                fig.savefig(tmp)
            tmp.replace(out)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)


def _save_png(fig: Any, path: Path) -> None:
    from PIL import Image  # matplotlib depends on Pillow

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    buffer.seek(0)
    with Image.open(buffer) as image:
        image.convert("RGB").quantize(colors=256).save(path, format="PNG", optimize=True)


def short_number(value: float, _pos: Any = None) -> str:
    """Plain tick labels: 500, 50k, 100k, 1.5M (a matplotlib ``FuncFormatter``)."""
    magnitude = abs(value)
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def token_axis(axis: Any, log: bool = True) -> None:
    """Label an x axis in plain token counts (log scale by default, no 10^x labels)."""
    with needs("plot", "plotting"):
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    if log:
        axis.set_xscale("log")
        axis.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.xaxis.set_minor_formatter(NullFormatter())
    axis.xaxis.set_major_formatter(FuncFormatter(short_number))


def annotate_betas(axis: Any, points: Sequence[CurvePoint], color: Any) -> None:
    """Write β beside each point that has one, alternating above and below."""
    for i, point in enumerate(sorted(points, key=lambda p: p.tokens)):
        if point.beta is None:
            continue
        axis.annotate(
            f"{point.beta:g}",
            (point.tokens, point.accuracy),
            textcoords="offset points",
            xytext=(0, 5 if i % 2 == 0 else -10),
            ha="center",
            fontsize=6,
            color=color,
        )


def draw_curve(
    axis: Any, label: str, points: Sequence[CurvePoint], marker: str = "o", size: float = 4
) -> Any:
    """One method: line through its points, a 95 % band where intervals are known, β labels.

    Markers are hollow; give each curve its own ``marker`` and ``size`` so that
    coinciding points of different methods stay visible as nested outlines.
    """
    ordered = sorted(points, key=lambda p: p.tokens)
    xs = [p.tokens for p in ordered]
    ys = [p.accuracy for p in ordered]
    (line,) = axis.plot(
        xs,
        ys,
        marker=marker,
        markersize=size,
        markerfacecolor="none",
        linewidth=1.3,
        alpha=0.85,
        label=label,
    )
    if all(p.low is not None and p.high is not None for p in ordered) and len(ordered) > 1:
        axis.fill_between(
            xs,
            [p.low for p in ordered],
            [p.high for p in ordered],
            color=line.get_color(),
            alpha=0.1,
            linewidth=0,
        )
    elif len(ordered) == 1 and ordered[0].low is not None and ordered[0].high is not None:
        p, low, high = ordered[0], ordered[0].low, ordered[0].high
        axis.errorbar(
            [p.tokens],
            [p.accuracy],
            yerr=[[p.accuracy - low], [high - p.accuracy]],
            color=line.get_color(),
            capsize=2,
            linewidth=0.8,
        )
    annotate_betas(axis, ordered, line.get_color())
    return line


def plot_curves(
    curves: Mapping[str, Sequence[CurvePoint | tuple[float, float]]],
    out: Path,
    *,
    title: str = "",
) -> None:
    """One line per controller through its points; log-scaled x axis in plain token counts.

    Points are :class:`CurvePoint` (bands and β labels drawn when present) or bare
    ``(tokens, accuracy)`` pairs.
    """
    check_figure_path(out)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=150)
    markers = "osD^vP*X"
    for i, (label, points) in enumerate(curves.items()):
        given = [p if isinstance(p, CurvePoint) else CurvePoint(p[0], p[1]) for p in points]
        draw_curve(ax, label, given, markers[i % len(markers)], size=max(3.0, 7.0 - 1.2 * i))
    token_axis(ax)
    ax.set_xlabel("average tokens per question (log scale); labels: β; bands: 95 % CI")
    ax.set_ylabel("accuracy (%)")
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out)
