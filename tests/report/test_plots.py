"""Plots: plain token tick labels, β at each point, 95 % bands, and the ``table --plot`` grid."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autotts.cli.main import main
from autotts.data.synthetic import SYNTHETIC_MODELS
from autotts.report.plots import (
    CurvePoint,
    draw_curve,
    plot_curves,
    pyplot,
    short_number,
    token_axis,
)

pytest.importorskip("matplotlib")
from matplotlib.image import imread


@pytest.mark.parametrize(
    ("value", "label"),
    [
        (0, "0"),
        (500, "500"),
        (2_500, "2.5k"),
        (50_000, "50k"),
        (100_000, "100k"),
        (236_735, "237k"),
        (1_000_000, "1M"),
        (1_500_000, "1.5M"),
    ],
)
def test_short_number(value: float, label: str) -> None:
    assert short_number(value) == label


def test_log_token_axis_reads_in_plain_numbers() -> None:
    plt = pyplot()
    fig, ax = plt.subplots()
    ax.plot([15_000, 1_500_000], [1, 2])
    token_axis(ax)
    ax.set_xlim(15_000, 1_500_000)
    fig.canvas.draw()
    low, high = ax.get_xlim()
    shown = [t.get_text() for t in ax.get_xticklabels() if low <= t.get_position()[0] <= high]
    plt.close(fig)
    assert shown == ["20k", "50k", "100k", "200k", "500k", "1M"]


def test_curve_writes_beta_at_each_point_with_a_band() -> None:
    plt = pyplot()
    fig, ax = plt.subplots()
    points = [
        CurvePoint(40_000, 70.0, 66.0, 74.0, 0.0),
        CurvePoint(90_000, 75.0, 72.0, 78.0, 0.5),
        CurvePoint(300_000, 80.0, 78.5, 81.5, 1.0),
    ]
    line = draw_curve(ax, "cmc", list(reversed(points)))
    assert [t.get_text() for t in ax.texts] == ["0", "0.5", "1"]
    assert list(line.get_xdata()) == [40_000, 90_000, 300_000]
    assert line.get_markerfacecolor() == "none"  # hollow: coinciding points stay visible
    (band,) = ax.collections
    ys = band.get_paths()[0].vertices[:, 1]
    assert min(ys) == 66.0 and max(ys) == 81.5
    plt.close(fig)


def test_plot_curves_accepts_bare_pairs(tmp_path: Path) -> None:
    out = tmp_path / "c.png"
    plot_curves({"a": [(1000.0, 50.0), (5000.0, 60.0)], "b": [(1000.0, 50.0)]}, out)
    assert imread(out).shape[:2] == (round(4.4 * 150), round(6.4 * 150))


def test_table_plot_draws_the_grid_and_keeps_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "grid.png"
    model = SYNTHETIC_MODELS[0]
    args = ["table", "--data", "synthetic", "--models", model, "--benchmarks", "aime24,hmmt25"]
    args += ["--seeds", "2", "--plot", str(out), "--plot-betas", "0,1", "--json"]
    assert main(args) == 0
    captured = capsys.readouterr()
    rows = json.loads(captured.out)
    assert len(rows) == 2 * 6  # the table's rows only: the curve points go to the figure
    assert {r["method"] for r in rows} == {
        "SC@64",
        "ASC",
        "ESC",
        "Parallel-Probe",
        "CMC β=0.5",
        "CMC β=1.0",
    }
    assert "a 1 × 2 grid (models × benchmarks)" in captured.err
    # one row of two panels: 4.3 in per benchmark, 3.3 in per model + 0.8 in, at 100 dpi
    assert imread(out).shape[:2] == (round((3.3 + 0.8) * 100), round(2 * 4.3 * 100))


def test_table_plot_refuses_a_bad_path_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["table", "--data", "synthetic", "--plot", str(tmp_path / "g.txt")]) == 2
    assert "--plot must end in .png, .pdf or .svg" in capsys.readouterr().err
