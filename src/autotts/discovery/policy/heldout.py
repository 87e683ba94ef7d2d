"""Curves of selected policies and of CMC, and paired gains at CMC's operating points.

Call it only after every method's policy is selected: it is the one place the policy
search reads held-out files. For each of CMC's operating points (β = 0.5, 1.0) a
policy's β is chosen on the *search* files (the most accurate grid β whose search
tokens stay within CMC's there; none: the cheapest), and on the held-out files its
accuracy gain over CMC comes with a paired bootstrap 95 % interval over questions
(:func:`autotts.evaluation.paired_gain.paired_gain`: 10,000 draws, seed 0), each
question drawn once for every model, as ``autotts discover`` and ``autotts optimize``
draw it; the interval drawing each file on its own is kept beside it
(``ci95_per_file``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from autotts.controllers.base import Controller
from autotts.controllers.cmc import ConfidenceMomentum
from autotts.discovery.heldout_common import file_means
from autotts.discovery.optimizer.heldout import Curve, heldout_curves
from autotts.discovery.policy.export import policy_controller
from autotts.discovery.policy.family import FloatArray
from autotts.evaluation.jobs import DataRef
from autotts.evaluation.paired_gain import paired_gain, question_set

__all__ = ["CMC_POINTS", "cmc_curve", "curve_means", "operating_points", "policy_curve"]

CMC_POINTS = (0.5, 1.0)


def policy_curve(
    theta: FloatArray,
    refs: Sequence[DataRef],
    betas: Sequence[float],
    seeds: int,
    tick: Callable[[], None] | None = None,
) -> Curve:
    cls = policy_controller(theta)

    def make(beta: float) -> Controller:
        return cls(beta)

    return heldout_curves(make, refs, betas, seeds, tick)


def cmc_curve(
    refs: Sequence[DataRef],
    betas: Sequence[float],
    seeds: int,
    tick: Callable[[], None] | None = None,
) -> Curve:
    return heldout_curves(ConfidenceMomentum.from_beta, refs, betas, seeds, tick)


def curve_means(curve: Curve) -> list[dict[str, float]]:
    """Per β: accuracy (%) and tokens, averaged over files."""
    return [
        dict(zip(("beta", "accuracy", "tokens"), (beta, *file_means(tables)[:2])))
        for beta, tables in curve
    ]


def operating_points(
    search: Curve,
    search_cmc: Curve,
    heldout: Curve,
    heldout_cmc: Curve,
    heldout_refs: Sequence[DataRef],
) -> list[dict[str, Any]]:
    """Per CMC operating point: the β the search files chose, and the held-out gain
    (``heldout_refs``: the files of the held-out curves' tables, in their order)."""
    groups = [question_set(ref) for ref in heldout_refs]
    mine = curve_means(search)
    theirs = {p["beta"]: p for p in curve_means(search_cmc)}
    held = dict(heldout)
    held_cmc = dict(heldout_cmc)
    held_means = {p["beta"]: p for p in curve_means(heldout)}
    held_cmc_means = {p["beta"]: p for p in curve_means(heldout_cmc)}
    out = []
    for cmc_beta in CMC_POINTS:
        budget = theirs[cmc_beta]["tokens"]
        within = [p for p in mine if p["tokens"] <= budget]
        if within:
            pick = max(within, key=lambda p: (p["accuracy"], -p["tokens"]))
        else:
            pick = min(mine, key=lambda p: p["tokens"])
        beta = pick["beta"]
        gain = paired_gain(held[beta], held_cmc[cmc_beta], groups=groups).to_dict()
        out.append(
            {
                "cmc_beta": cmc_beta,
                "beta": beta,
                "search_tokens": pick["tokens"],
                "search_cmc_tokens": budget,
                "within_budget": bool(within),
                "accuracy": held_means[beta]["accuracy"],
                "tokens": held_means[beta]["tokens"],
                "cmc_accuracy": held_cmc_means[cmc_beta]["accuracy"],
                "cmc_tokens": held_cmc_means[cmc_beta]["tokens"],
                **gain,
            }
        )
    return out
