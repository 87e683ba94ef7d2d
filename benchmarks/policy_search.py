"""The Beta-policy search against TPE and CMA-ES at the same number of episode evaluations.

Run:  python benchmarks/policy_search.py [--data ../shared/data/replay] [--budget 48000]
      [--seed 0] [--heldout-seeds 20] [--out policy-search] [--figure docs/policy-search.png]

Three searches over the same Beta-policy family (:mod:`autotts.discovery.policy`),
the same reward (accuracy minus a β-dependent price per token) and the same search
files (AIME24 × the four models): REINFORCE with a leave-one-out baseline, Optuna's
TPE and CMA-ES. Each spends ``--budget`` episode evaluations, in draws of the same
size. Each method's policy is then picked by the selection rule written to
``OUT/run.json`` before the first search starts (:data:`SELECTION_RULE`). Only then
are the held-out files (AIME25 + HMMT25 × the four models) read: the three policies'
curves and CMC's over a β grid, under the reference protocol with
``--heldout-seeds`` shuffle seeds, and each policy's accuracy gain over CMC at CMC's
operating points (β = 0.5, 1.0; the policy's β chosen on the search files) with a
paired bootstrap interval.

Writes ``OUT/run.json``, ``OUT/<method>.json`` (weights, candidates' scores, learning
curve), ``OUT/results.json`` and the figure: learning curves (reward of each method's
current policy on a fixed monitor set, against episodes spent) beside the held-out
accuracy-vs-tokens curves.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from autotts.cli.common import data_refs
from autotts.discovery.policy.heldout import (
    CMC_POINTS,
    cmc_curve,
    curve_means,
    operating_points,
    policy_curve,
)
from autotts.discovery.policy.search import (
    METHODS,
    SELECTION_RULE,
    Reward,
    SearchEpisodes,
    run_method,
    select,
)
from autotts.evaluation.jobs import load_data
from autotts.report.plots import CurvePoint, draw_curve, pyplot, save_figure, token_axis

BETAS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
#: methods of this benchmark: the search module's, and REINFORCE with the marginal estimator
CHOICES = (*METHODS, "reinforce-bernoulli")
LABELS = {"reinforce": "REINFORCE (Beta score)", "reinforce-bernoulli":
          "REINFORCE (Bernoulli score)", "tpe": "TPE", "cmaes": "CMA-ES", "cmc": "CMC"}  # fmt: skip
#: one colour per method in both panels
COLOURS = {"reinforce": "tab:blue", "reinforce-bernoulli": "tab:cyan", "tpe": "tab:orange",
           "cmaes": "tab:green", "cmc": "black"}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None, help="replay store (default: as autotts finds it)")
    ap.add_argument("--budget", type=int, default=48_000, help="episode evaluations per method")
    ap.add_argument("--k", type=int, default=4, help="episodes per question and β in a draw")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--heldout-seeds", type=int, default=20)
    ap.add_argument("--methods", nargs="+", default=list(CHOICES), choices=CHOICES)
    ap.add_argument("--out", type=Path, default=Path("policy-search"))
    ap.add_argument("--figure", type=Path, default=Path("docs/policy-search.png"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    search_refs = data_refs(args.data, benchmarks=["aime24"])
    heldout_refs = data_refs(args.data, benchmarks=["aime25", "hmmt25"])
    reward = Reward()
    started = time.monotonic()
    load_before = os.getloadavg()
    (args.out / "run.json").write_text(
        json.dumps(
            {
                "selection_rule": SELECTION_RULE,
                "heldout_rule": "each selected policy once on the held-out files; its β at a "
                "CMC operating point is the most accurate grid β within CMC's search tokens",
                "reward": {"price_high": reward.price_high, "price_low": reward.price_low},
                "budget": args.budget,
                "k": args.k,
                "seed": args.seed,
                "search": [f"{r.model}/{r.benchmark}" for r in search_refs],
                "heldout": [f"{r.model}/{r.benchmark}" for r in heldout_refs],
            },
            indent=2,
        )
    )
    data = SearchEpisodes([load_data(r) for r in search_refs], seeds=100)
    chosen: dict[str, Any] = {}
    record: dict[str, Any] = {}
    for method in args.methods:
        base, _, estimator = method.partition("-")
        result = run_method(
            base, data, reward, args.budget, k=args.k, seed=args.seed, estimator=estimator or "beta"
        )
        theta, scores, used = select(data, reward, result.candidates)
        chosen[method] = theta
        record[method] = {
            "episodes": result.episodes,
            "search_seconds": result.seconds,
            "selection_scores": scores,
            "selection_episodes": used,
            "selected_reward": max(scores),
            "progress": result.progress,
            "theta": theta.tolist(),
        }
        (args.out / f"{method}.json").write_text(json.dumps(record[method], indent=2))
        print(
            f"{method:9s} {result.episodes} episodes, {result.seconds:.0f} s; selection "
            f"rewards {', '.join(f'{s:.4f}' for s in scores)} (+{used} episodes)",
            flush=True,
        )
    # every policy is selected: from here on the held-out files are read
    curves: dict[str, Any] = {}
    search_cmc = cmc_curve(search_refs, CMC_POINTS, args.heldout_seeds)
    held_cmc = cmc_curve(heldout_refs, sorted({*BETAS, *CMC_POINTS}), args.heldout_seeds)
    curves["cmc"] = curve_means(held_cmc)
    results: dict[str, Any] = {"methods": record, "cmc": curves["cmc"]}
    for method, theta in chosen.items():
        search = policy_curve(theta, search_refs, BETAS, args.heldout_seeds)
        held = policy_curve(theta, heldout_refs, BETAS, args.heldout_seeds)
        curves[method] = curve_means(held)
        points = operating_points(search, search_cmc, held, held_cmc, heldout_refs)
        record[method]["search_curve"] = curve_means(search)
        record[method]["heldout_curve"] = curves[method]
        record[method]["operating_points"] = points
        for p in points:
            print(
                f"{method:9s} vs CMC β={p['cmc_beta']:g}: β={p['beta']:g} "
                f"{p['accuracy']:.2f}% at {p['tokens'] / 1000:.1f}k vs "
                f"{p['cmc_accuracy']:.2f}% at {p['cmc_tokens'] / 1000:.1f}k: "
                f"{p['gain']:+.2f} [{p['ci95'][0]:+.2f}, {p['ci95'][1]:+.2f}]",
                flush=True,
            )
    results["seconds"] = time.monotonic() - started
    results["load_average"] = {"before": load_before, "after": os.getloadavg()}
    results["heldout_seeds"] = args.heldout_seeds
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    _figure(record, curves, args)
    print(f"wrote {args.out}/results.json and {args.figure} in {results['seconds']:.0f} s")


def _figure(record: dict[str, Any], curves: dict[str, Any], args: argparse.Namespace) -> None:
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.5, 4.4), dpi=150)
    for method, rec in record.items():
        xs = [e for e, _ in rec["progress"]]
        ys = [r for _, r in rec["progress"]]
        left.plot(xs, ys, marker="o", markersize=3, label=LABELS[method], color=COLOURS[method])
    left.set_xlabel("episode evaluations spent by the search")
    left.set_ylabel("reward of the current policy (monitor set)")
    left.set_title(f"search on AIME24 × 4 models ({args.budget:,} episodes each)")
    left.grid(True, alpha=0.3)
    left.legend(fontsize=8)
    markers = "osD^v"
    right.set_prop_cycle(color=[COLOURS[m] for m in curves])  # draw_curve takes the next colour
    for i, (method, points) in enumerate(curves.items()):
        given = [CurvePoint(p["tokens"], p["accuracy"], beta=p["beta"]) for p in points]
        draw_curve(right, LABELS[method], given, markers[i % 5], size=max(3.0, 6.0 - i))
    token_axis(right)
    right.set_xlabel("average tokens per question (log scale); labels: β")
    right.set_ylabel("accuracy (%)")
    right.set_title(f"held-out: AIME25 + HMMT25 × 4 models, {args.heldout_seeds} seeds")
    right.grid(True, which="both", alpha=0.3)
    right.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, args.figure)


if __name__ == "__main__":
    main()
