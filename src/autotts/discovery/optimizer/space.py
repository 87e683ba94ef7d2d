"""The search space: an Optuna trial → a :class:`BetaSchedule` (structure + coefficients)."""

from __future__ import annotations

from typing import Any

from autotts.controllers.cmc import cmc_schedule
from autotts.controllers.composable import KNOB_RANGES, PART_CHOICES, BetaSchedule

__all__ = ["DEPTHS", "cmc_start", "schedule_from_params", "suggest_schedule"]

#: Depth parts a search may choose.
DEPTHS = ("burst", "full")


def suggest_schedule(trial: Any, fixed: dict[str, str] | None = None) -> BetaSchedule:
    """Ask ``trial`` (an ``optuna.Trial``) for every structure choice and coefficient.

    Slots in ``fixed`` keep the given part and are not searched.
    """
    fixed = fixed or {}
    choices = {**PART_CHOICES, "depth": DEPTHS}
    parts = {
        slot: fixed[slot] if slot in fixed else trial.suggest_categorical(slot, list(c))
        for slot, c in choices.items()
    }
    bounds: dict[str, tuple[float, float]] = {}
    for name, spec in KNOB_RANGES.items():
        ends = []
        for end in ("lo", "hi"):
            key = f"{name}_{end}"
            if spec.integer:
                ends.append(float(trial.suggest_int(key, int(spec.low), int(spec.high))))
            else:
                ends.append(trial.suggest_float(key, spec.low, spec.high))
        bounds[name] = (ends[0], ends[1])
    power = trial.suggest_float("power", 0.25, 4.0, log=True)
    return BetaSchedule(parts, bounds, power)


def schedule_from_params(
    params: dict[str, Any], fixed: dict[str, str] | None = None
) -> BetaSchedule:
    """The schedule a finished trial's ``params`` describe (inverse of :func:`suggest_schedule`)."""
    merged = {**params, **(fixed or {})}
    # trials of searches made before a part or knob existed lack it: it keeps its default
    parts = {slot: str(merged[slot]) for slot in (*PART_CHOICES, "depth") if slot in merged}
    bounds = {
        name: (float(merged[f"{name}_lo"]), float(merged[f"{name}_hi"]))
        for name in KNOB_RANGES
        if f"{name}_lo" in merged
    }
    return BetaSchedule(parts, bounds, float(merged["power"]))


def cmc_start() -> dict[str, Any]:
    """Trial parameters close to CMC (its structure, its schedule's ends), to start from.

    Exact except ``trend_thresh``, which CMC lowers as β grows (that widens less
    when spending more); here it is held at CMC's β = 0 value.
    """
    lo, hi = cmc_schedule(0.0), cmc_schedule(1.0)
    ends = {
        "n_init": (lo.n_init, hi.n_init),
        "max_branches": (lo.max_branch_use, hi.max_branch_use),
        "widen_burst": (lo.widen_burst, hi.widen_burst),
        "trend_thresh": (lo.trend_thresh, lo.trend_thresh),
        "burst_aligned": (lo.burst_aligned, hi.burst_aligned),
        "patience": (lo.abandon_patience, hi.abandon_patience),
        "warm_up": (lo.warm_up, hi.warm_up),
        "T_ema": (lo.T_ema, hi.T_ema),
        "ema_alpha": (hi.ema_alpha, lo.ema_alpha),
        "conf_thresh": (lo.conf_thresh, hi.conf_thresh),
        "delta_slack": (hi.delta_slack, lo.delta_slack),
        "min_complete": (lo.min_complete, hi.min_complete),
        "T_stable": (1, 20),
        "short_power": (0.0, 0.0),
        "futile_after": (64, 64),
        "futile_conf": (0.5, 0.5),
    }
    params: dict[str, Any] = {
        "widen": "trend", "prune": "pool", "stop": "momentum", "vote": "completed",
        "depth": "burst", "give_up": "never", "confidence": "counts", "power": 1.0,
    }  # fmt: skip
    for name, (a, b) in ends.items():
        params[f"{name}_lo"], params[f"{name}_hi"] = a, b
    return params
