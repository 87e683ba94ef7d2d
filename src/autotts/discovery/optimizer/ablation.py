"""Ablation of a composed controller: each part switched back to a neutral default in turn.

Neutral parts: widen → ``never`` (keep the initial width), prune → ``never``, stop →
``never`` (read until every branch finishes or the branch cap is reached), vote →
``completed`` (plain majority of finished branches), give_up → ``never``, confidence
→ ``counts``, aligned bursts → none
(``burst_aligned = burst_other``: no extra depth for branches that agree). A slot
already neutral is skipped. Each variant is replayed on a β grid; what a part
contributes is read off the frontier: the area under accuracy vs log10 tokens,
and the best accuracy within the full controller's own token spend at β = 0.5 and
β = 1.0 (on the same set). Sets are replayed with the reference protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from autotts.controllers.composable import Knobs
from autotts.data.records import ReplaySet
from autotts.discovery.optimizer.objective import SearchData
from autotts.discovery.selection import area_under

__all__ = ["NEUTRAL", "ablate", "variants"]

KnobsAt = Callable[[float], Knobs]

#: Slot → the knob changes that make it neutral.
NEUTRAL: dict[str, dict[str, Any]] = {
    "widen": {"widen": "never"},
    "prune": {"prune": "never"},
    "stop": {"stop": "never"},
    "vote": {"vote": "completed"},
    "give-up": {"give_up": "never"},
    "weighted confidence": {"confidence": "counts"},
    "aligned bursts": {"burst_aligned": None},  # None: copy burst_other
}


def _neutralise(knobs: Knobs, changes: dict[str, Any]) -> Knobs:
    values: dict[str, Any] = {
        k: (knobs.burst_other if v is None else v) for k, v in changes.items()
    }
    return replace(knobs, **values)


def variants(knobs_at: KnobsAt) -> dict[str, KnobsAt]:
    """``full`` plus one variant per non-neutral part (judged at β = 0.5 and 1.0)."""
    out: dict[str, KnobsAt] = {"full": knobs_at}
    for slot, changes in NEUTRAL.items():
        if slot == "aligned bursts" and knobs_at(1.0).depth == "full":
            continue
        if all(_neutralise(knobs_at(b), changes) == knobs_at(b) for b in (0.5, 1.0)):
            continue
        out[f"no {slot}"] = lambda b, c=changes: _neutralise(knobs_at(b), c)  # type: ignore[misc]
    return out


def ablate(
    knobs_at: KnobsAt,
    sets: Mapping[str, Sequence[ReplaySet]],
    *,
    betas: Sequence[float],
    seeds: int = 100,
    progress: Callable[[str, str], None] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, dict[str, list[tuple[float, float]]]]]:
    """Rows (set × variant) and per set the curves ``{variant: [(tokens, accuracy), ...]}``."""
    rows: list[dict[str, Any]] = []
    curves: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for set_name, replays in sets.items():
        data = SearchData(list(replays), seeds)
        curves[set_name] = {}
        budgets: list[float] = []
        for label, schedule in variants(knobs_at).items():
            if progress:
                progress(set_name, label)
            result = data.run(schedule, betas)
            acc, tok = result.mean()
            points = [(float(t), float(a)) for t, a in zip(tok, acc)]
            curves[set_name][label] = points
            if label == "full":
                budgets = [float(tok[list(betas).index(b)]) for b in (0.5, 1.0)]
            row: dict[str, Any] = {
                "set": set_name,
                "variant": label,
                "auc": area_under(points),
            }
            for name, budget in zip(("acc@full β=0.5 tokens", "acc@full β=1 tokens"), budgets):
                within = [a for t, a in points if t <= budget * (1 + 1e-9)]
                row[name] = max(within) if within else None
            row["tokens β=1"] = points[-1][0]
            rows.append(row)
        full = next(r for r in rows if r["set"] == set_name and r["variant"] == "full")
        for r in rows:
            if r["set"] == set_name:
                r["Δauc"] = r["auc"] - full["auc"]
    return rows, curves
