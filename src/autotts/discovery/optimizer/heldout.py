"""Held-out curves of the optimiser's winner against CMC and SC, with paired bootstrap gains.

The only place an optimiser run reads held-out files, and only after
``selection.json`` exists. Everything uses the reference protocol (100 shuffle
seeds by default). Reported, averaged over the held-out files:

* the winner's and CMC's curves on a β grid, SC's on its budgets 1…64;
* at each of CMC's operating points (β = 0.5, 1.0): the winner at the β the
  *search set* chose for that budget, and every grid β whose held-out tokens are
  within CMC's; for each, the accuracy gain with a paired bootstrap 95 % interval
  over questions (:func:`autotts.evaluation.paired_gain.paired_gain`, as ``autotts
  discover``'s verdict: 10,000 draws, seed 0): ``ci95`` draws each question once for
  all models (files that hold the same questions share their draws), ``ci95_per_file`` draws every
  file on its own (narrower, and what records before 2026-12-07 reported); the rows are
  :class:`~autotts.discovery.heldout_records.BudgetGains` records;
* the share of SC@64's tokens at which the curve first reaches SC@64's accuracy
  (linear interpolation between grid points).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from autotts.controllers.base import Controller
from autotts.controllers.composable import BetaSchedule, Composed
from autotts.controllers.registry import ControllerSpec, build
from autotts.discovery.heldout_common import Progress, file_means, read_selection
from autotts.discovery.heldout_records import BudgetGains, GainRow, OptimizerHeldout
from autotts.discovery.rundir import RunDir
from autotts.discovery.settings import DiscoverySettings
from autotts.errors import UsageError
from autotts.evaluation.jobs import DataRef, load_data
from autotts.evaluation.paired_gain import paired_gain, question_set
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.runner import EpisodeTable, run_episodes

__all__ = [
    "Curve",
    "compare_on",
    "evaluate_heldout_curves",
    "heldout_curves",
    "reference_curves",
    "sc64_share",
]

GRID = [round(0.1 * i, 10) for i in range(11)]
SC_GRID = [round(0.1 * i, 10) for i in range(11)]
Event = Callable[[dict[str, Any]], None]
#: (β, per-file episode tables) for one method
Curve = list[tuple[float, list[EpisodeTable]]]


def heldout_curves(
    make: Callable[[float], Controller],
    refs: Sequence[DataRef],
    betas: Sequence[float],
    seeds: int,
    tick: Callable[[], None] | None = None,
) -> Curve:
    protocol = ReferenceProtocol(seeds=seeds)
    out: Curve = []
    for beta in betas:
        tables = []
        for ref in refs:
            tables.append(run_episodes(make(beta), load_data(ref), protocol))
            if tick:
                tick()
        out.append((beta, tables))
    return out


def sc64_share(curve: Curve, sc64: list[EpisodeTable]) -> float | None:
    """Share of SC@64's mean tokens at which ``curve`` first reaches SC@64's mean accuracy."""
    target_acc, target_tok, _ = file_means(sc64)
    pts = sorted(file_means(tables)[:2][::-1] for _, tables in curve)  # (tokens, accuracy)
    for (t0, a0), (t1, a1) in itertools.pairwise(pts):
        if a0 >= target_acc:
            return t0 / target_tok
        if a1 >= target_acc:
            t = t0 + (t1 - t0) * (target_acc - a0) / (a1 - a0)
            return t / target_tok
    if pts and pts[0][1] >= target_acc:
        return pts[0][0] / target_tok
    return None


def evaluate_heldout_curves(
    run: RunDir, *, seeds: int = 100, on_event: Event | None = None
) -> dict[str, Any]:
    """Evaluate the selection on the run's held-out files; writes and returns ``heldout.json``."""
    selection = read_selection(run)
    refs = DiscoverySettings.from_run_json(run.settings()).heldout
    if not refs:
        raise UsageError("the run has no held-out files")
    schedule = BetaSchedule.from_dict(selection["schedule"])
    payload = compare_on(refs, lambda b: Composed(schedule, b), selection, seeds, on_event)
    payload["selection"] = {k: selection[k] for k in ("round", "beta", "rule", "trial")}
    # written through its typed record, so the file is what every reader of it parses
    run.write_json("heldout.json", OptimizerHeldout.from_dict(payload).to_dict())
    return payload


def reference_curves(
    refs: Sequence[DataRef], seeds: int, on_event: Event | None = None
) -> dict[str, Curve]:
    """CMC's and SC's held-out curves, which every comparison on ``refs`` shares."""
    total = len(refs) * (len(GRID) + len(SC_GRID))
    tick = _counter(total, on_event)
    return {
        "cmc": heldout_curves(lambda b: build(ControllerSpec("cmc", b)), refs, GRID, seeds, tick),
        "sc": heldout_curves(lambda b: build(ControllerSpec("sc", b)), refs, SC_GRID, seeds, tick),
    }


def _counter(total: int, on_event: Event | None) -> Callable[[], None]:
    def report(done: int, total: int) -> None:
        if on_event:
            on_event({"phase": "heldout", "done": done, "total": total})

    return Progress(total, report).tick


def compare_on(
    refs: Sequence[DataRef],
    make: Callable[[float], Controller],
    selection: dict[str, Any],
    seeds: int,
    on_event: Event | None = None,
    label: str = "winner",
    references: dict[str, Curve] | None = None,
) -> dict[str, Any]:
    """The winner vs CMC and SC on ``refs``: points, operating-point gains, SC@64 share.

    ``references``: CMC's and SC's curves from :func:`reference_curves`, when several
    controllers are compared on the same files."""
    # the β the search chose for each budget are evaluated too, beside the grid
    chosen = selection.get("betas_at_cmc_budgets", {})
    grid = sorted(set(GRID) | {float(b) for b in chosen.values()})
    curves = {
        label: heldout_curves(make, refs, grid, seeds, _counter(len(refs) * len(grid), on_event)),
        **(references if references is not None else reference_curves(refs, seeds, on_event)),
    }
    points = []
    for method, curve in curves.items():
        for beta, tables in curve:
            for ref, t in zip(refs, tables):
                per_q = 100.0 * t.correct.mean(axis=0)
                half = 1.96 * float(per_q.std(ddof=1)) / np.sqrt(per_q.size)
                acc = 100.0 * float(t.correct.mean())
                points.append({
                    "method": method, "model": ref.model, "benchmark": ref.benchmark,
                    "beta": beta, "accuracy": acc, "accuracy_ci95": [acc - half, acc + half],
                    "tokens": float(t.cost.mean()), "seq_tokens": float(t.sequential_cost.mean()),
                })  # fmt: skip
    by_beta = {m: dict(c) for m, c in curves.items()}
    # A benchmark's files hold the same questions for every model: a draw takes a question
    # for all models at once (a hard question is hard for each), the protocol the project's
    # targets are stated in. Files are grouped by the questions they hold, not by their
    # benchmark's name alone, so a store whose files of one name hold other questions is
    # drawn file by file, not paired by position. Each file drawn on its own, as records
    # before 2026-12-07 were, is kept beside it as ``ci95_per_file``.
    question_sets = [question_set(ref) for ref in refs]
    gains = []
    for cmc_beta in (0.5, 1.0):
        ref_tables = by_beta["cmc"][cmc_beta]
        ref_acc, ref_tok, _ = file_means(ref_tables)
        rows = []
        for beta, tables in curves[label]:
            acc, tok, _ = file_means(tables)
            search_choice = abs(float(chosen.get(str(cmc_beta), -1)) - beta) < 1e-9
            if tok <= ref_tok or search_choice:
                gain = paired_gain(tables, ref_tables, groups=question_sets)
                rows.append(GainRow(beta, acc, tok, tok <= ref_tok, search_choice, gain))
        gains.append(BudgetGains(cmc_beta, ref_acc, ref_tok, tuple(rows)))
    sc64 = by_beta["sc"][1.0]
    return {
        "protocol": ReferenceProtocol(seeds=seeds).to_dict(),
        "files": [load_data(r).provenance() for r in refs],
        "points": points,
        "mean": {
            m: [
                dict(zip(("beta", "accuracy", "tokens", "seq_tokens"), (b, *file_means(t))))
                for b, t in c
            ]
            for m, c in curves.items()
        },
        "gains": [g.to_dict() for g in gains],
        "sc64": dict(zip(("accuracy", "tokens"), file_means(sc64)[:2])),
        "sc64_share": {m: sc64_share(curves[m], sc64) for m in (label, "cmc")},
    }


def summary_lines(payload: dict[str, Any], label: str = "winner") -> list[str]:
    """A held-out comparison in a few lines (what ``autotts optimize`` prints)."""
    lines = []
    for g in map(BudgetGains.from_dict, payload["gains"]):
        lines.append(f"CMC β={g.cmc_beta:g}: {g.cmc_accuracy:.2f}% at {g.cmc_tokens / 1000:.0f}k")
        for c in g.candidates:
            tags = [t for t, on in (("search-chosen β", c.search_choice),
                                    ("within budget", c.within_budget)) if on]  # fmt: skip
            low, high = c.gain.ci95
            lines.append(
                f"  {label} β={c.beta:g}: {c.accuracy:.2f}% at {c.tokens / 1000:.0f}k, "
                f"gain {c.gain.gain:+.2f} [{low:+.2f}, {high:+.2f}] ({', '.join(tags)})"
            )
    sc = payload["sc64"]
    lines.append(f"SC@64: {sc['accuracy']:.2f}% at {sc['tokens'] / 1000:.0f}k")
    for method, share in payload["sc64_share"].items():
        text = "never" if share is None else f"{100 * share:.0f}% of its tokens"
        lines.append(f"  {method} reaches SC@64's accuracy at {text}")
    return lines


def mean_curves(
    payload: dict[str, Any], winner: str = "winner"
) -> dict[str, list[tuple[float, float]]]:
    """``{method: [(tokens, accuracy), ...]}`` of the file-averaged held-out curves."""
    names = {"winner": winner, "cmc": "CMC (β = 0…1)", "sc": "SC@n (n = 1…64)"}
    return {
        names.get(m, m): [(p["tokens"], p["accuracy"]) for p in pts]
        for m, pts in payload["mean"].items()
    }
