"""The scaling-curve grid: models as rows, benchmarks as columns, every method in each panel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from autotts.evaluation.curves import curve_of
from autotts.evaluation.jobs import EvalJob
from autotts.evaluation.results import EvalResult
from autotts.report.plots import (
    CurvePoint,
    check_figure_path,
    draw_curve,
    pyplot,
    save_figure,
    token_axis,
)

__all__ = ["GridPanel", "grid_panels", "plot_grid", "plot_table_grid"]

MARKERS = "osD^vP*X"

#: One panel: curve label -> points, and table label -> (its curve, its point).
GridPanel = tuple[dict[str, list[CurvePoint]], dict[str, tuple[str, CurvePoint]]]


def _point(job: EvalJob, result: EvalResult) -> CurvePoint:
    low, high = result.metrics.accuracy_ci95
    return CurvePoint(result.metrics.tokens, result.metrics.accuracy, low, high, job.spec.beta)


def grid_panels(
    fixed: Sequence[tuple[EvalJob, EvalResult]], curves: Sequence[tuple[EvalJob, EvalResult]]
) -> dict[tuple[str, str], GridPanel]:
    """Group table rows (``fixed``, labelled by table method) and curve points by file."""
    panels: dict[tuple[str, str], GridPanel] = {}
    for job, result in curves:
        key = (job.data.model, job.data.benchmark)
        lines, _ = panels.setdefault(key, ({}, {}))
        lines.setdefault(job.label, []).append(_point(job, result))
    for job, result in fixed:
        key = (job.data.model, job.data.benchmark)
        _, stars = panels.setdefault(key, ({}, {}))
        point = _point(job, result)
        stars[job.label] = (curve_of(job.label), CurvePoint(point.tokens, point.accuracy))
    return panels


def plot_table_grid(
    finished: Sequence[tuple[EvalJob, EvalResult]], table_ids: set[int], out: Path, seeds: int
) -> tuple[int, int]:
    """``autotts table --plot``: jobs whose ``id`` is in ``table_ids`` are table rows
    (stars), the others curve points; return the grid's (rows, columns)."""
    fixed = [(job, r) for job, r in finished if id(job) in table_ids]
    curves = [(job, r) for job, r in finished if id(job) not in table_ids]
    title = f"accuracy vs tokens per question, reference protocol ({seeds} shuffle seeds)"
    return plot_grid(grid_panels(fixed, curves), out, title=title)


def plot_grid(
    panels: Mapping[tuple[str, str], GridPanel],
    out: Path,
    *,
    title: str = "",
) -> tuple[int, int]:
    """Draw one panel per (model, benchmark); return the grid's (rows, columns).

    Curves carry 95 % bands and β labels; the table's fixed settings are filled
    stars in their curve's colour, drawn over the curves.
    """
    check_figure_path(out)
    plt = pyplot()
    models = list(dict.fromkeys(model for model, _ in panels))
    benchmarks = list(dict.fromkeys(bench for _, bench in panels))
    fig, axes = plt.subplots(
        len(models),
        len(benchmarks),
        figsize=(4.3 * len(benchmarks), 3.3 * len(models) + 0.8),
        dpi=100,
        squeeze=False,
    )
    colours: dict[str, str] = {}
    handles: dict[str, object] = {}
    for (model, bench), (curves, fixed) in panels.items():
        ax = axes[models.index(model)][benchmarks.index(bench)]
        for i, (label, points) in enumerate(curves.items()):
            line = draw_curve(ax, label, points, MARKERS[i % len(MARKERS)], size=5.5 - 0.6 * i)
            colours.setdefault(label, line.get_color())
            handles.setdefault(label, line)
        for curve, point in fixed.values():
            star = ax.scatter(
                [point.tokens],
                [point.accuracy],
                marker="*",
                s=70,
                color=colours.get(curve, "black"),
                edgecolors="black",
                linewidths=0.5,
                zorder=5,
            )
            handles.setdefault("★ the table's settings", star)
        token_axis(ax)
        ax.grid(True, which="both", alpha=0.25)
        ax.tick_params(labelsize=7)
        ax.set_title(f"{model} / {bench}", fontsize=9)
        if bench == benchmarks[0]:
            ax.set_ylabel("accuracy (%)", fontsize=8)
        if model == models[-1]:
            ax.set_xlabel("tokens per question", fontsize=8)
    for row in axes:
        for ax in row:
            if not ax.has_data():
                ax.set_visible(False)
    fig.legend(
        list(handles.values()),
        list(handles),
        loc="upper center",
        ncol=len(handles),
        fontsize=8,
        frameon=False,
        bbox_to_anchor=(0.5, 1 - 0.15 / fig.get_figheight()),
    )
    if title:
        fig.suptitle(title, fontsize=10, y=1 - 0.02 / fig.get_figheight())
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.42 / fig.get_figheight()))
    save_figure(fig, out)
    return len(models), len(benchmarks)
