"""``autotts report RUN``: one self-contained HTML page about a discovery run.

Everything is inline (SVG charts, CSS), so the page opens offline. It opens with
its verdict (:mod:`autotts.discovery.verdict`): the selection against the best
baseline at matched tokens on the held-out files, in words. Then the search
trajectory (accuracy vs tokens per round beside the baselines, as the paper's
Figure 4, and the best accuracy so far by round), each round's curves per search
file with its code, verdict, reason, proposer summary and trace digest, the
held-out comparison table and chart, and the proposer's costs and times.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import jinja2

from autotts.discovery.baseline_records import BaselinesFile
from autotts.discovery.heldout_records import DiscoverHeldout, HeldoutPoint, OptimizerHeldout
from autotts.discovery.history import load_history
from autotts.discovery.records import AggregatePoint, CurvePoint, RoundEntry, Selection
from autotts.discovery.rundir import RunDir, write_text_atomic
from autotts.discovery.transfer_records import TransferFile
from autotts.discovery.verdict import twins, verdict
from autotts.report.svg import PALETTE, Series, chart
from autotts.report.tables import format_tokens

__all__ = ["render_report", "shown_points", "write_report"]

#: The package's report templates, with their filters (this report and the side-by-side one).
TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("autotts.report", "templates"),
    autoescape=jinja2.select_autoescape(default=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
TEMPLATES.filters["ktok"] = format_tokens

TOKENS = "tokens per question (log scale)"

#: One colour per baseline, the same in every chart (search-set names and held-out labels).
BASELINE_COLOURS = {
    "sc": "#7f7f7f",
    "asc": "#17becf",
    "esc": "#bcbd22",
    "parallel-probe": "#8c564b",
    "cmc": "#9467bd",
}
HELDOUT_COLOURS = {
    "SC@64": BASELINE_COLOURS["sc"],
    "ASC": BASELINE_COLOURS["asc"],
    "ESC": BASELINE_COLOURS["esc"],
    "Parallel-Probe": BASELINE_COLOURS["parallel-probe"],
    "CMC β=0.5": BASELINE_COLOURS["cmc"],
    "CMC β=1.0": "#4a2a80",
}
BASELINE_NAMES = {
    "sc": "SC",
    "asc": "ASC",
    "esc": "ESC",
    "parallel-probe": "Parallel-Probe",
    "cmc": "CMC",
}
#: The selected controller, drawn last (on top) and larger, in a colour no baseline has.
SELECTED = "#d62728"
#: Other rounds: colours no baseline has, so a round is never mistaken for one.
ROUND_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#e377c2", "#1b9e77", "#e6ab02", "#666600")
#: Past this many accepted rounds, the unselected ones share one grey legend entry.
LISTED_ROUNDS = 12
OTHER_ROUNDS = "#9e9e9e"
#: Files within a round's chart.
FILE_COLOURS = ("#6baed6", "#fd8d3c", "#74c476", "#fa9fb5", "#9e9ac8", "#fdd0a2", "#a1d99b")


def _agg_points(aggregate: Sequence[AggregatePoint]) -> list[tuple[float, float]]:
    return [(a.tokens, a.accuracy) for a in aggregate]


def _betas(aggregate: Sequence[AggregatePoint]) -> list[str]:
    return [f"β={a.beta:g}" for a in aggregate]


def _baseline_series(baselines: BaselinesFile | None, opacity: float = 0.9) -> list[Series]:
    if baselines is None:
        return []
    return [
        Series(
            f"{BASELINE_NAMES.get(name, name)} (baseline)",
            _agg_points(m.aggregate),
            BASELINE_COLOURS.get(name, PALETTE[i % len(PALETTE)]),
            dashed=True,
            width=1.6,
            radius=2.2,
            opacity=opacity,
        )
        for i, (name, m) in enumerate(baselines.methods.items())
    ]


def _is_selected(entry: RoundEntry, selection: Selection | None) -> bool:
    return selection is not None and selection.round == entry.round


def _trajectory(
    index: list[RoundEntry], baselines: BaselinesFile | None, selection: Selection | None
) -> str:
    series = _baseline_series(baselines)
    chosen = None
    accepted = [e for e in index if e.aggregate]
    # an optimize run has hundreds of rounds: a legend entry each would bury the chart,
    # so past a dozen the other rounds are drawn in grey under one entry
    crowded = len(accepted) > LISTED_ROUNDS
    others = sum(not _is_selected(e, selection) for e in accepted)
    listed_others = False
    for i, entry in enumerate(accepted):
        label = f"round {entry.round}: {entry.name}"
        if _is_selected(entry, selection):
            chosen = Series(
                f"{label} (selected)",
                _agg_points(entry.aggregate),
                SELECTED,
                width=3.2,
                radius=4.2,
                labels=_betas(entry.aggregate),
            )
            continue
        if crowded:
            series.append(
                Series(
                    f"other rounds ({others})",
                    _agg_points(entry.aggregate),
                    OTHER_ROUNDS,
                    width=1.2,
                    radius=2.0,
                    opacity=0.5,
                    legend=not listed_others,
                )
            )
            listed_others = True
            continue
        colour = ROUND_COLOURS[i % len(ROUND_COLOURS)]
        series.append(Series(label, _agg_points(entry.aggregate), colour, width=2, opacity=0.85))
    if chosen is not None:
        series.append(chosen)
    return chart(
        series,
        title="Search trajectory: mean search-set accuracy vs tokens, per round",
        xlabel=TOKENS,
        ylabel="accuracy (%)",
        log_x=True,
        height=440,
    )


def _best_so_far(index: list[RoundEntry], baselines: BaselinesFile | None) -> str:
    best, points, labels = None, [], []
    for entry in index:
        top = entry.best
        if top and (best is None or top.accuracy > best):
            best = top.accuracy
        if best is not None:
            points.append((float(entry.round), best))
            labels.append(entry.verdict[:3] if not entry.accepted else "")
    rounds = [float(e.round) for e in index] or [1.0]
    series = []
    for name, method in baselines.methods.items() if baselines else ():
        ceiling = max((a.accuracy for a in method.aggregate), default=None)
        if ceiling is not None:
            flat = [(min(rounds), ceiling), (max(rounds), ceiling)]
            colour = BASELINE_COLOURS.get(name, "#9a9a9a")
            label = f"{BASELINE_NAMES.get(name, name)} best (baseline)"
            series.append(Series(label, flat, colour, dashed=True, marker=False, width=1.6))
    series.append(Series("best round so far", points, SELECTED, labels=labels, width=2.6))
    return chart(
        series,
        title="Best search-set accuracy so far, by round",
        xlabel="round",
        ylabel="accuracy (%)",
        height=300,
    )


def _round_chart(
    entry: RoundEntry,
    points: Sequence[CurvePoint],
    baselines: BaselinesFile | None,
    selected: bool,
) -> str:
    """The round's mean curve over the search files, drawn over the baselines' (behind,
    lighter) and beside its curve on each file (thin)."""
    series = _baseline_series(baselines, opacity=0.55)
    by_file: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for p in points:
        by_file[f"{p.model}/{p.benchmark}"].append((p.tokens, p.accuracy))
    for i, (label, pts) in enumerate(by_file.items()):
        series.append(Series(label, pts, FILE_COLOURS[i % len(FILE_COLOURS)], width=1.2, radius=2))
    if entry.aggregate:
        series.append(
            Series(
                f"round {entry.round}: mean over the search files",
                _agg_points(entry.aggregate),
                SELECTED if selected else "#222222",
                width=3,
                radius=3.8,
                labels=_betas(entry.aggregate),
            )
        )
    return chart(
        series,
        title=f"Round {entry.round}: accuracy vs tokens over the β grid, with the baselines",
        xlabel=TOKENS,
        ylabel="accuracy (%)",
        log_x=True,
    )


def _point_label(beta: float | None, twins_of: list[str]) -> str:
    """β at a held-out point; a twin's point also names the baseline it hides."""
    text = f"β={beta:g}" if beta is not None else ""
    return f"{text} (= {' = '.join(twins_of)})" if twins_of else text


def shown_points(
    heldout: DiscoverHeldout | OptimizerHeldout, selected_beta: float | None = None
) -> list[HeldoutPoint]:
    """The held-out points the table and charts show. A discovery run records one point per
    method and file. An optimize run records whole curves (the winner's, CMC's, SC's on a
    β grid): shown are its operating points, the winner at the β the search set chose for
    each of CMC's budgets (the selection's β first), CMC at those budgets, and SC@64."""
    if not isinstance(heldout, OptimizerHeldout):
        return list(heldout.points)
    labels: dict[tuple[str, float | None], str] = {}
    chosen = sorted(
        {row.beta for budget in heldout.gains for row in budget.search_choices()},
        key=lambda beta: beta != selected_beta,
    )
    for beta in chosen:
        labels[("winner", beta)] = f"winner β={beta:g}"
    for budget in heldout.gains:
        # named as a discovery run's held-out baselines are (and coloured alike)
        labels[("cmc", budget.cmc_beta)] = f"CMC β={budget.cmc_beta:.1f}"
    labels[("sc", 1.0)] = "SC@64"
    # the winner first: the table's first row, and the point drawn as the selection
    order = list(labels.values())
    shown = [
        replace(p, method=labels[(p.method, p.point.beta)])
        for p in heldout.points
        if (p.method, p.point.beta) in labels
    ]
    return sorted(shown, key=lambda p: order.index(p.method))


def _heldout(
    heldout: DiscoverHeldout | OptimizerHeldout | None, selection: Selection | None = None
) -> dict[str, Any] | None:
    if not heldout:
        return None
    points = shown_points(heldout, selection.beta if selection else None)
    files = sorted({(p.point.model, p.point.benchmark) for p in points})
    methods = list(dict.fromkeys(p.method for p in points))
    candidate = heldout.candidate or methods[0]
    cells = {(p.method, p.point.model, p.point.benchmark): p.point for p in points}
    rows = []
    for method in methods:
        row = [cells.get((method, m, b)) for m, b in files]
        present = [c for c in row if c]
        mean = (
            (
                sum(c.accuracy for c in present) / len(present),
                sum(c.tokens for c in present) / len(present),
            )
            if present
            else None
        )
        rows.append({"method": method, "cells": row, "mean": mean})
    charts = []
    same = twins(points, candidate)
    # The candidate last: drawn on top of a baseline it may coincide with.
    order = [m for m in methods if m != candidate] + [candidate]
    for bench in sorted({b for _, b in files}):
        series = []
        for i, method in enumerate(order):
            pts = [p for (meth, _m, b), p in cells.items() if meth == method and b == bench]
            if not pts:
                continue
            centre = [
                (
                    sum(p.tokens for p in pts) / len(pts),
                    sum(p.accuracy for p in pts) / len(pts),
                )
            ]
            beta = pts[0].beta
            ours = method == candidate
            series.append(
                Series(
                    f"{method} (selected)" if ours else method,
                    centre,
                    SELECTED if ours else HELDOUT_COLOURS.get(method, PALETTE[i % len(PALETTE)]),
                    line=False,
                    radius=6 if ours else 4.5,
                    # a twin's point lies under the selection's, whose label names it
                    labels=[] if method in same else [_point_label(beta, same if ours else [])],
                )
            )
        charts.append(
            chart(
                series,
                title=f"Held-out {bench}: mean over models",
                xlabel=TOKENS,
                ylabel="accuracy (%)",
                log_x=True,
                height=340,
            )
        )
    return {"files": files, "rows": rows, "charts": charts, "info": heldout}


def _transfer(transfer: TransferFile | None) -> dict[str, Any] | None:
    """The transfer matrix as table rows: one per model, one cell per benchmark."""
    if not transfer:
        return None
    cells = {(c.model, c.benchmark): c for c in transfer.cells}
    rows = [
        {
            "model": model,
            "searched": model in transfer.search_models,
            "cells": [cells.get((model, bench)) for bench in transfer.benchmarks],
        }
        for model in transfer.models
    ]
    return {"file": transfer, "rows": rows}


def _protocol_text(args: dict[str, Any]) -> str:
    if args.get("name") == "subsample":
        return (
            f"subsample: {args.get('draws')} random pools of {args.get('size')} branches "
            f"per question, seed {args.get('seed')}"
        )
    return f"reference: shuffle seeds 0–{int(args.get('seeds', 100)) - 1}"


def render_report(run_path: Path | str) -> str:
    """The page's HTML for the run in ``run_path``."""
    run = RunDir(run_path)
    settings = run.settings()
    # the history's entries (index line and round files, as JSON) are what the page
    # shows; the charts and totals read the typed index lines beside them
    history = load_history(run)
    index = [RoundEntry.from_dict(e) for e in history]
    baselines = run.baselines()
    chosen = run.selection()
    selection = None if chosen is None else chosen.to_dict()
    heldout = run.heldout()
    transfer = run.transfer()
    rounds = []
    for entry, line in zip(history, index):
        folder = run.round_dir(line.round)
        proposal = run.round_json(line.round, "proposal.json")
        points = [CurvePoint.from_dict(p) for p in entry.get("points", [])]
        rounds.append(
            {
                "entry": entry,
                "chart": (
                    _round_chart(line, points, baselines, _is_selected(line, chosen))
                    if points
                    else ""
                ),
                "proposal": proposal,
                "prompt_chars": len(run.round_text(line.round, "prompt.md")),
                "folder": folder.relative_to(run.path).as_posix(),
            }
        )
    return TEMPLATES.get_template("report.html.j2").render(
        run=str(run.path),
        settings=settings,
        protocol=_protocol_text(settings.get("protocol_args", {})),
        history=history,
        rounds=rounds,
        trajectory=_trajectory(index, baselines, chosen),
        verdict=verdict(heldout, chosen) if heldout and chosen else None,
        best_so_far=_best_so_far(index, baselines),
        selection=selection,
        heldout=_heldout(heldout, chosen),
        transfer=_transfer(transfer),
        ablations=[name for name, on in settings.get("ablations", {}).items() if on],
        totals={
            "money": index[-1].money_total if index else 0.0,
            "tokens": index[-1].proposer_tokens_total if index else 0,
            "seconds": (index[-1].seconds_total or 0.0) if index else 0.0,
        },
    )


def write_report(run_path: Path | str, out: Path | None = None) -> Path:
    """Write the page (default ``RUN/report.html``) atomically; returns its path."""
    target = out or Path(run_path) / "report.html"
    write_text_atomic(target, render_report(run_path))
    return target
