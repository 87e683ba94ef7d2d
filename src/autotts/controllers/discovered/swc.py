"""swc: steady widening, pruning off the completed majority, a Beta-confidence stop.

Found by ``autotts optimize`` (no LLM): a composition of the parts in
:mod:`autotts.controllers.composable.plain` with the β schedule below; how it
was searched, selected and evaluated is in :data:`PROVENANCE`.
"""

# ruff: noqa: E501  (the provenance record keeps its long strings whole)
from __future__ import annotations

from typing import Any

from autotts.controllers.composable.fast import FastParts
from autotts.controllers.composable.plain import Knobs

__all__ = ["PROVENANCE", "SteadyWideningConfidence"]

#: How this controller was found: search settings, seed, time, objective, selection.
PROVENANCE: dict[str, Any] = {
    "betas_at_cmc_budgets": {"0.5": 0.5, "1.0": 1.0},
    "built_in_rule": "of the two seeds' winners, the one with the higher mean search-set gain at 100 seeds",
    "found_by": "autotts optimize --out RUN --data ../shared/data/replay --seed 0 --time-budget 2700 --workers 2 --no-heldout",
    "machine": "2 cores shared with four other engineers' jobs (load average about 11)",
    "objective": "mean over CMC's operating points (β=0.5, β=1.0) of: best mean accuracy among the trial's β grid points whose mean tokens are within CMC's, minus CMC's accuracy (points, fit questions = 20 of the 30 AIME24 questions, 10 reference seeds), minus 0.1 per active part",
    "search_files": [
        {
            "benchmark": "aime24",
            "model": "Qwen3-0.6B",
            "sha256": "6b4297405b494c84afb05b337af315c617513eb2580ed327ca7040b760988a7d",
        },
        {
            "benchmark": "aime24",
            "model": "Qwen3-1.7B",
            "sha256": "5d6c9a63e26c7cf60181c53b67adc7017db146bf2ff1e3b9784673cb97313ad1",
        },
        {
            "benchmark": "aime24",
            "model": "Qwen3-4B",
            "sha256": "d99ce8711c60605b7555a7fc6e66cc5ae0abe7ce6b36bf4e712802d26aa7ffdd",
        },
        {
            "benchmark": "aime24",
            "model": "Qwen3-8B",
            "sha256": "be725bdacc64712088d5c947b9b869471ad659c8465c3e5b6e9ff5191bfd0128",
        },
    ],
    "search_gains_100_seeds": [
        {
            "accuracy": 63.46666666666667,
            "beta": 0.5,
            "cmc_accuracy": 63.483333333333334,
            "cmc_beta": 0.5,
            "cmc_tokens": 262973.36491666664,
            "gain": -0.01666666666666572,
            "tokens": 259941.49199999997,
        },
        {
            "accuracy": 64.75833333333334,
            "beta": 1.0,
            "cmc_accuracy": 65.14999999999999,
            "cmc_beta": 1.0,
            "cmc_tokens": 483390.3246666667,
            "gain": -0.3916666666666515,
            "tokens": 462027.0771666666,
        },
    ],
    "search_seconds": 2263.2,
    "search_settings": {
        "betas": [0.0, 0.25, 0.5, 0.75, 1.0],
        "part_penalty": 0.1,
        "patience": 400,
        "sampler": "tpe",
        "search_seeds": 10,
        "seed": 0,
        "split_seed": 0,
        "time_budget": 2700.0,
        "top_k": 10,
        "trials_per_round": 25,
        "validation_questions": 10,
        "workers": 2,
    },
    "seed": 0,
    "selection": "among the top_k trials by fit objective (fit questions of the search set), the best by validation objective (held-back questions of the search set)",
    "started": "2026-11-29T12:14:20+00:00",
    "stopped_by": "early stopping (no validation gain in 400 trials) after 915 trials",
    "trial": 899,
}


class SteadyWideningConfidence(FastParts):
    """steady widening, pruning off the completed majority, a Beta-confidence stop."""

    name = "swc"

    @classmethod
    def from_beta(cls, beta: float) -> SteadyWideningConfidence:
        return cls(beta)

    def knobs_at(self, beta: float) -> Knobs:
        b = min(1.0, max(0.0, float(beta)))
        p = 1.3393254048516754
        return Knobs(
            depth="burst",
            prune="pool",
            stop="confidence",
            vote="completed",
            widen="always",
            n_init=round(4.0 + 2.0 * b**p),
            max_branches=round(25.0 + 25.0 * b**p),
            widen_burst=round(1.0 + 3.0 * b**p),
            trend_thresh=round(-0.04107879165397317 + 0.0541118269528547 * b**p, 4),
            burst_aligned=3,
            patience=round(7.0 + 9.0 * b**p),
            warm_up=round(0.0 + 9.0 * b**p),
            T_ema=round(2.0 + 2.0 * b**p),
            ema_alpha=round(0.8131874292998948 - 0.16332052457224822 * b**p, 4),
            conf_thresh=round(0.6767815560441566 + 0.292319672823694 * b**p, 4),
            delta_slack=round(0.05889128151946584 - 0.05149199026525352 * b**p, 4),
            min_complete=round(2.0 + 9.0 * b**p),
            T_stable=1,
            short_power=1.4903,
        )
