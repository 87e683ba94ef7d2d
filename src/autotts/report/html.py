"""``autotts report RUN``: one self-contained HTML page about a discovery run.

Everything is inline (SVG charts, CSS), so the page opens offline: the search
trajectory (accuracy vs tokens per round beside the baselines, as the paper's
Figure 4, and the best accuracy so far by round), each round's curves per search
file with its code, verdict, reason, proposer summary and trace digest, the
held-out comparison table and chart, and the proposer's costs and times.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import jinja2

from autotts.discovery.history import load_history
from autotts.discovery.rundir import RunDir, write_text_atomic
from autotts.report.svg import PALETTE, Series, chart
from autotts.report.tables import format_tokens

__all__ = ["render_report", "write_report"]

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("autotts.report", "templates"),
    autoescape=jinja2.select_autoescape(default=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["ktok"] = format_tokens

TOKENS = "tokens per question (log scale)"


def _agg_points(aggregate: list[dict[str, Any]]) -> list[tuple[float, float]]:
    return [(a["tokens"], a["accuracy"]) for a in aggregate]


def _baseline_series(baselines: dict[str, Any]) -> list[Series]:
    return [
        Series(f"{name} (baseline)", _agg_points(m["aggregate"]), "#9a9a9a", dashed=True, width=1)
        for name, m in baselines.get("methods", {}).items()
    ]


def _trajectory(history: list[dict[str, Any]], baselines: dict[str, Any]) -> str:
    series = _baseline_series(baselines)
    accepted = [e for e in history if e.get("aggregate")]
    for i, entry in enumerate(accepted):
        series.append(
            Series(
                f"round {entry['round'] + 1}: {entry['name']}",
                _agg_points(entry["aggregate"]),
                PALETTE[i % len(PALETTE)],
                width=2.4,
            )
        )
    return chart(
        series,
        title="Search trajectory: mean search-set accuracy vs tokens, per round",
        xlabel=TOKENS,
        ylabel="accuracy (%)",
        log_x=True,
        width=820,
        height=420,
    )


def _best_so_far(history: list[dict[str, Any]], baselines: dict[str, Any]) -> str:
    best, points, labels = None, [], []
    for entry in history:
        top = entry.get("best")
        if top and (best is None or top["accuracy"] > best):
            best = top["accuracy"]
        if best is not None:
            points.append((float(entry["round"] + 1), best))
            labels.append(entry["verdict"][:3] if entry["verdict"] != "accepted" else "")
    series = [Series("best so far", points, PALETTE[0], labels=labels)]
    rounds = [float(e["round"] + 1) for e in history] or [1.0]
    for name, method in baselines.get("methods", {}).items():
        top = max((a["accuracy"] for a in method["aggregate"]), default=None)
        if top is not None:
            flat = [(min(rounds), top), (max(rounds), top)]
            series.append(Series(f"{name} best", flat, "#9a9a9a", dashed=True, marker=False))
    return chart(
        series,
        title="Best search-set accuracy so far, by round",
        xlabel="round",
        ylabel="accuracy (%)",
        width=820,
        height=300,
    )


def _round_chart(entry: dict[str, Any]) -> str:
    by_file: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for p in entry.get("points", []):
        by_file[f"{p['model']}/{p['benchmark']}"].append((p["tokens"], p["accuracy"]))
    series = [
        Series(label, pts, PALETTE[i % len(PALETTE)])
        for i, (label, pts) in enumerate(by_file.items())
    ]
    return chart(
        series,
        title=f"Round {entry['round'] + 1}: curves per search file (β grid)",
        xlabel=TOKENS,
        ylabel="accuracy (%)",
        log_x=True,
    )


def _heldout(heldout: dict[str, Any] | None) -> dict[str, Any] | None:
    if not heldout:
        return None
    files = sorted({(p["model"], p["benchmark"]) for p in heldout["points"]})
    methods = list(dict.fromkeys(p["method"] for p in heldout["points"]))
    cells = {(p["method"], p["model"], p["benchmark"]): p for p in heldout["points"]}
    rows = []
    for method in methods:
        row = [cells.get((method, m, b)) for m, b in files]
        present = [c for c in row if c]
        mean = (
            (
                sum(c["accuracy"] for c in present) / len(present),
                sum(c["tokens"] for c in present) / len(present),
            )
            if present
            else None
        )
        rows.append({"method": method, "cells": row, "mean": mean})
    charts = []
    for bench in sorted({b for _, b in files}):
        series = []
        for i, method in enumerate(methods):
            pts = [
                (p["tokens"], p["accuracy"])
                for (meth, _m, b), p in cells.items()
                if meth == method and b == bench
            ]
            centre = [(sum(x for x, _ in pts) / len(pts), sum(y for _, y in pts) / len(pts))]
            colour = PALETTE[0] if i == 0 else PALETTE[(i + 1) % len(PALETTE)]
            series.append(Series(method, centre, colour, line=False))
        charts.append(
            chart(
                series,
                title=f"Held-out {bench}: mean over models",
                xlabel=TOKENS,
                ylabel="accuracy (%)",
                log_x=True,
            )
        )
    return {"files": files, "rows": rows, "charts": charts, "info": heldout}


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
    history = load_history(run)
    baselines = run.read_json("baselines.json") if run.file("baselines.json").is_file() else {}
    selection = run.read_json("selection.json") if run.file("selection.json").is_file() else None
    heldout = run.read_json("heldout.json") if run.file("heldout.json").is_file() else None
    rounds = []
    for entry in history:
        folder = run.round_dir(entry["round"])
        proposal = run.round_json(entry["round"], "proposal.json")
        rounds.append(
            {
                "entry": entry,
                "chart": _round_chart(entry) if entry.get("points") else "",
                "proposal": proposal,
                "prompt_chars": len(run.round_text(entry["round"], "prompt.md")),
                "folder": folder.relative_to(run.path).as_posix(),
            }
        )
    return _ENV.get_template("report.html.j2").render(
        run=str(run.path),
        settings=settings,
        protocol=_protocol_text(settings.get("protocol_args", {})),
        history=history,
        rounds=rounds,
        trajectory=_trajectory(history, baselines),
        best_so_far=_best_so_far(history, baselines),
        selection=selection,
        heldout=_heldout(heldout),
        totals={
            "money": history[-1].get("money_total", 0.0) if history else 0.0,
            "tokens": history[-1].get("proposer_tokens_total", 0) if history else 0,
            "seconds": history[-1].get("seconds_total", 0.0) if history else 0.0,
        },
    )


def write_report(run_path: Path | str, out: Path | None = None) -> Path:
    """Write the page (default ``RUN/report.html``) atomically; returns its path."""
    target = out or Path(run_path) / "report.html"
    write_text_atomic(target, render_report(run_path))
    return target
