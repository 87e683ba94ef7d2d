"""``autotts report RUN RUN ...``: several discovery runs on one page, side by side.

Made for the paper's ablations (``--no-trace-digest``, ``--no-beta``) and for seeds
or proposers compared: one chart holds every run's selected curve on its search set,
another every selection's held-out point, over the baselines of the first run that
has them; a table lists the settings that differ between the runs (what the
comparison is about), and one row per run gives its selection and held-out verdict.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autotts.discovery.records import AggregatePoint, CurvesFile
from autotts.discovery.rundir import RunDir, write_text_atomic
from autotts.discovery.verdict import means, verdict
from autotts.errors import UsageError
from autotts.report.html import (
    HELDOUT_COLOURS,
    ROUND_COLOURS,
    TEMPLATES,
    TOKENS,
    _agg_points,
    _baseline_series,
    _betas,
    shown_points,
)
from autotts.report.svg import PALETTE, Series, chart

__all__ = ["SETTINGS_COMPARED", "render_side_by_side", "write_side_by_side"]


def _names(entries: list[dict[str, Any]], key: str) -> str:
    return ",".join(sorted({e[key] for e in entries}))


#: The settings compared, by the name the table shows: how to read each from run.json.
SETTINGS_COMPARED: dict[str, Any] = {
    "proposer": lambda r: r.get("proposer", {}).get("kind", r.get("mode", "")),
    "LLM": lambda r: r.get("proposer", {}).get("model"),
    "--no-trace-digest": lambda r: r.get("ablations", {}).get("no_trace_digest", False),
    "--no-beta": lambda r: r.get("ablations", {}).get("no_beta", False),
    "search models": lambda r: _names(r["search"], "model"),
    "held-out models": lambda r: _names(r["heldout"], "model"),
    "search benchmarks": lambda r: _names(r["search"], "benchmark"),
    "held-out files": lambda r: len(r["heldout"]),
    "β grid": lambda r: ",".join(f"{b:g}" for b in r.get("betas", [])),
    "protocol": lambda r: json.dumps(r.get("protocol_args", {}), sort_keys=True),
    "rounds": lambda r: r.get("limits", {}).get("rounds"),
    "select": lambda r: r.get("select"),
    "race": lambda r: "race" in r,
    "held-out seeds": lambda r: r.get("heldout_seeds"),
    # an optimize run's own settings (every discovery run has none: not listed then)
    "sampler": lambda r: r.get("proposer", {}).get("sampler"),
    "objective": lambda r: r.get("proposer", {}).get("objective"),
    "replay seeds": lambda r: r.get("proposer", {}).get("replay_seeds"),
    "search seeds": lambda r: r.get("proposer", {}).get("search_seeds"),
    "fixed parts": lambda r: r.get("proposer", {}).get("fixed_parts"),
    "time budget (s)": lambda r: r.get("proposer", {}).get("time_budget"),
    "interpreter": lambda r: r.get("interpreter", "cpython"),
    "autotts": lambda r: r.get("autotts_version"),
}


def _load(path: Path) -> dict[str, Any]:
    run = RunDir(path)
    settings = run.settings()  # a folder that holds no run fails here, by name

    selection = run.selection()
    curve: tuple[AggregatePoint, ...] = ()
    if selection is not None and selection.round is not None:
        folder = run.round_dir(int(selection.round))
        if (folder / "curves.json").is_file():
            curve = CurvesFile.from_dict(
                run.round_json(int(selection.round), "curves.json")
            ).aggregate
    index = run.index()
    return {
        "path": str(path),
        "settings": settings,
        "selection": selection,
        "curve": curve,
        "baselines": run.baselines(),
        "heldout": run.heldout(),
        "transfer": run.transfer(),
        "rounds": len(index),
        "accepted": sum(1 for e in index if e.accepted),
        "money": index[-1].money_total if index else 0.0,
    }


def _labels(paths: Sequence[Path]) -> list[str]:
    """Each run's folder name; the whole path where two runs share a name."""
    names = [p.name or str(p) for p in paths]
    return [str(p) if names.count(n) > 1 else n for p, n in zip(paths, names)]


def _differing(runs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows of the settings that differ between the runs, and the names of those that do not
    (of those that some run has)."""
    rows, same = [], []
    for name, read in SETTINGS_COMPARED.items():
        values = [read(r["settings"]) for r in runs]
        if len({json.dumps(v, sort_keys=True, default=str) for v in values}) > 1:
            rows.append({"name": name, "values": ["–" if v is None else v for v in values]})
        elif any(v is not None for v in values):  # a setting none of the runs has: not said
            same.append(name)
    return rows, same


def _heldout_row(run: dict[str, Any]) -> dict[str, Any]:
    held = run["heldout"]
    selection = run["selection"]
    row: dict[str, Any] = {
        "selection": None
        if selection is None or selection.round is None
        else f"round {selection.round} ({selection.name}) at β = {selection.beta:g}",
        "mean": None,
        "paired": None,
        "headline": None,
    }
    if held:
        table, candidate = _held_out_means(run)
        if candidate in table:
            row["mean"] = table[candidate]
        row["paired"] = held.paired
        if selection is not None and selection.round is not None:
            row["headline"] = verdict(held, selection)["headline"].rstrip(".")
    return row


def _held_out_means(run: dict[str, Any]) -> tuple[dict[str, tuple[float, float]], str | None]:
    """Mean (accuracy, tokens) per shown method and the selection's label: for an optimize
    run, its operating points (:func:`~autotts.report.html.shown_points`), not a mean over
    each curve's β grid."""
    selection = run["selection"]
    points = shown_points(run["heldout"], selection.beta if selection else None)
    candidate = run["heldout"].candidate or (points[0].method if points else None)
    return means(points), candidate


def _search_chart(runs: list[dict[str, Any]], labels: list[str]) -> str:
    reference = next((r for r in runs if r["baselines"]), None)
    series = _baseline_series(reference["baselines"], opacity=0.6) if reference else []
    for i, (run, label) in enumerate(zip(runs, labels)):
        if run["curve"]:
            series.append(
                Series(
                    f"{label}: selected round {run['selection'].round}",
                    _agg_points(run["curve"]),
                    ROUND_COLOURS[i % len(ROUND_COLOURS)],
                    width=2.6,
                    radius=3.8,
                    labels=_betas(run["curve"]),
                )
            )
    title = "Each run's selection on its search set (mean over the search files)"
    if reference:
        title += f"; baselines of {labels[runs.index(reference)]}"
    return chart(series, title=title, xlabel=TOKENS, ylabel="accuracy (%)", log_x=True)


def _heldout_chart(runs: list[dict[str, Any]], labels: list[str]) -> str:
    """Every selection's held-out mean point over the first run's baselines' points."""
    series = []
    reference = next((r for r in runs if r["heldout"]), None)
    if reference is not None:
        table, candidate = _held_out_means(reference)
        for i, (method, (acc, tok)) in enumerate(table.items()):
            # the baselines only: the selection is drawn below, an optimize run's other
            # operating point of its winner not at all
            if method == candidate or method.startswith("winner"):
                continue
            colour = HELDOUT_COLOURS.get(method, PALETTE[i % len(PALETTE)])
            series.append(Series(method, [(tok, acc)], colour, line=False, radius=4.5))
    for i, (run, label) in enumerate(zip(runs, labels)):
        row = _heldout_row(run)
        if row["mean"] is not None:
            acc, tok = row["mean"]
            colour = ROUND_COLOURS[i % len(ROUND_COLOURS)]
            series.append(
                Series(f"{label} (selected)", [(tok, acc)], colour, line=False, radius=6.5)
            )
    return chart(
        series,
        title="Held-out: each run's selection, mean over its held-out files",
        xlabel=TOKENS,
        ylabel="accuracy (%)",
        log_x=True,
        height=340,
    )


def render_side_by_side(paths: Sequence[Path | str]) -> str:
    """The page's HTML for the runs in ``paths`` (two or more)."""
    folders = [Path(p) for p in paths]
    if len(folders) < 2:
        raise UsageError("a side-by-side report needs two or more run directories")
    runs = [_load(p) for p in folders]
    labels = _labels(folders)
    differing, same = _differing(runs)
    return TEMPLATES.get_template("side_by_side.html.j2").render(
        runs=list(zip(labels, runs, [_heldout_row(r) for r in runs])),
        labels=labels,
        differing=differing,
        same=same,
        search_chart=_search_chart(runs, labels),
        heldout_chart=_heldout_chart(runs, labels),
    )


def write_side_by_side(paths: Sequence[Path | str], out: Path) -> Path:
    """Write the page to ``out`` atomically; returns its path."""
    write_text_atomic(out, render_side_by_side(paths))
    return out
