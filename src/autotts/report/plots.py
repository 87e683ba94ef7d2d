"""Accuracy-vs-tokens curves (needs the ``plot`` extra: ``pip install 'autotts[plot]'``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from autotts.errors import UsageError

__all__ = ["plot_curves"]


def plot_curves(
    curves: Mapping[str, Sequence[tuple[float, float]]],
    out: Path,
    *,
    title: str = "",
) -> None:
    """One line per controller through its ``(tokens, accuracy)`` points; log-scaled x axis."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only; never needs a display
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("plotting needs matplotlib: pip install 'autotts[plot]'") from None
    if out.suffix.lower() not in {".png", ".pdf", ".svg"}:
        raise UsageError(f"--plot must end in .png, .pdf or .svg, got {out.name}")
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=150)
    for label, points in curves.items():
        ordered = sorted(points)
        xs = [p[0] / 1000 for p in ordered]
        ys = [p[1] for p in ordered]
        ax.plot(xs, ys, marker="o", markersize=3.5, linewidth=1.5, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("average tokens per question (thousands, log scale)")
    ax.set_ylabel("accuracy (%)")
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp{out.suffix}")
    try:
        fig.savefig(tmp)
        tmp.replace(out)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
