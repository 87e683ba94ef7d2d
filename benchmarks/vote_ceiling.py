"""How much better than CMC can *any* vote over these trajectories be? A data ceiling.

Run:  python benchmarks/vote_ceiling.py [--data DIR] [--benchmarks aime25,hmmt25]
          [--seeds 100] [--powers 0,1,2,3] [--subsets 16,32,64] [--settled 0,1,2]
          [--out ceiling.json]

A controller of the optimiser's family decides by the answers its branches reach and by
their lengths. This script asks what those two signals can give at all, without any
controller: it reads *every* branch of every question to its end (about 3.5 times
SC@64's tokens on the public files) and votes over their final answers, each weighted
by ``(1 + length/Δ)^-p`` (``p = 0``: plain majority; larger ``p`` trusts shorter
trajectories more, which on these data are right more often); branches that ended
without a parsed answer ("ERR") do not vote. It also draws random
subsets of ``k`` branches read to their end (``--seeds`` draws per question), the same
vote at a fixed budget.

Controllers also see each branch's probe answers. ``--settled`` asks what those add: a
branch's vote is further weighted by ``((1 + a) / (1 + n))^s``, where ``n`` is the
number of its probes and ``a`` how many of them already gave its final answer (a branch
that settled early counts more; ``s = 0`` leaves the length weight alone).

Each rule is compared with CMC at β = 0.5 and β = 1.0 (reference protocol, ``--seeds``
replicates) by the held-out comparison's own gain function
(:func:`~autotts.evaluation.paired_gain.paired_gain`: paired bootstrap over questions,
each question drawn once for every model). Choosing ``p`` after seeing these numbers
flatters the best rule, so every figure is optimistic: if even the best full-information
vote is not significantly better than CMC β = 1.0, a controller that must reach the same
accuracy with a third of the tokens has little room to be. A diagnostic of the data,
never a result; nothing reads it to choose a controller.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from autotts.controllers.registry import ControllerSpec, build
from autotts.data.records import ReplayQuestion, ReplaySet
from autotts.data.refs import DataRef
from autotts.discovery.heldout_common import file_means
from autotts.evaluation.jobs import load_data
from autotts.evaluation.paired_gain import paired_gain, question_set
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.runner import EpisodeTable, run_episodes

MODELS = ("Qwen3-0.6B", "Qwen3-1.7B", "Qwen3-4B", "Qwen3-8B")
CMC_BETAS = (0.5, 1.0)


def weighted_vote(
    finals: np.ndarray, lengths: np.ndarray, delta: int, power: float, settled: np.ndarray
) -> int:
    """The final answer (vocabulary index) with the highest tally over the given branches;
    ``settled`` multiplies each branch's length weight (ones: length alone)."""
    weights = (1.0 + lengths / delta) ** -power * settled
    tally = np.bincount(finals, weights=weights)
    return int(np.argmax(tally))


def settled_share(question: ReplayQuestion) -> np.ndarray:
    """Per branch, ``(1 + a) / (1 + n)``: ``n`` its probes, ``a`` those that gave its final
    answer already."""
    steps = np.asarray(question.steps)
    n_probes = np.asarray(question.n_probes)
    is_probe = np.arange(steps.shape[1])[None, :] < n_probes[:, None]
    agree = ((steps == np.asarray(question.final)[:, None]) & is_probe).sum(axis=1)
    return (1.0 + agree) / (1.0 + n_probes)


def vote_table(
    replay: ReplaySet,
    power: float,
    subset: int | None,
    draws: int,
    seed: int,
    settled_power: float = 0.0,
) -> EpisodeTable:
    """Per (draw, question): whether the vote over all branches (``subset=None``, one
    draw) or over ``subset`` random branches is right, and the tokens it read."""
    rng = np.random.default_rng(seed)
    rows = 1 if subset is None else draws
    correct = np.zeros((rows, len(replay.questions)), dtype=bool)
    cost = np.zeros((rows, len(replay.questions)))
    longest = np.zeros_like(cost)  # branches run side by side: the latency is the longest
    for q, question in enumerate(replay.questions):
        finals = np.asarray(question.final)
        lengths = np.asarray(question.tokens, dtype=float)
        answered = np.array([question.answers[f] != "ERR" for f in finals])
        settled = settled_share(question) ** settled_power
        for r in range(rows):
            chosen = (
                np.arange(len(finals))
                if subset is None
                else rng.choice(len(finals), size=min(subset, len(finals)), replace=False)
            )
            # a branch whose final answer is "ERR" (none parsed) gets no vote: a rule any
            # controller may use, so leaving it out only raises the ceiling
            voting = chosen[answered[chosen]] if answered[chosen].any() else chosen
            answer = weighted_vote(
                finals[voting], lengths[voting], question.probe_freq, power, settled[voting]
            )
            correct[r, q] = replay.is_correct(q, question.answers[answer])
            cost[r, q] = lengths[chosen].sum()
            longest[r, q] = lengths[chosen].max()
    return EpisodeTable(correct=correct, cost=cost, sequential_cost=longest)


def gain_row(
    name: str,
    tables: Sequence[EpisodeTable],
    cmc: dict[float, list[EpisodeTable]],
    groups: Sequence[str],
) -> dict[str, object]:
    acc, tok, _ = file_means(tables)
    row: dict[str, object] = {"rule": name, "accuracy": acc, "tokens": tok}
    for beta, ref in cmc.items():
        gain = paired_gain(tables, ref, groups=groups)
        row[f"over_cmc_{beta}"] = gain.to_dict()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).parents[2] / "shared/data/replay"))
    parser.add_argument("--benchmarks", default="aime25,hmmt25")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--seeds", type=int, default=100, help="CMC replicates; subset draws")
    parser.add_argument("--powers", default="0,1,2,3", help="length-weight exponents p")
    parser.add_argument("--subsets", default="16,32,64", help="branches per random subset")
    parser.add_argument(
        "--settled", default="0,1,2", help="exponents s of the probe-agreement weight"
    )
    parser.add_argument("--out", help="write the rows here as JSON")
    args = parser.parse_args()

    refs = [
        DataRef(args.data, model, bench)
        for model in args.models.split(",")
        for bench in args.benchmarks.split(",")
    ]
    replays = [load_data(ref) for ref in refs]
    groups = [question_set(ref) for ref in refs]
    protocol = ReferenceProtocol(seeds=args.seeds)
    cmc = {
        beta: [run_episodes(build(ControllerSpec("cmc", beta)), r, protocol) for r in replays]
        for beta in CMC_BETAS
    }
    rows = []
    for beta, tables in cmc.items():
        acc, tok, _ = file_means(tables)
        rows.append({"rule": f"CMC beta={beta}", "accuracy": acc, "tokens": tok})
    powers = [float(p) for p in args.powers.split(",")]
    subsets: list[int | None] = [int(k) for k in args.subsets.split(",") if k] + [None]
    settled_powers = [float(s) for s in args.settled.split(",")]
    for subset in subsets:
        for settled in settled_powers:
            for power in powers:
                tables = [
                    vote_table(r, power, subset, args.seeds, seed=i, settled_power=settled)
                    for i, r in enumerate(replays)
                ]
                label = "all branches" if subset is None else f"{subset} random branches"
                label += f", p={power:g}" + (f", s={settled:g}" if settled else "")
                rows.append(gain_row(label, tables, cmc, groups))

    print(f"{len(refs)} files: {', '.join(sorted({r.benchmark for r in refs}))}")
    print(f"{'rule':40s} {'accuracy':>8s} {'tokens':>9s}  gain over CMC 0.5 | over CMC 1.0")
    for row in rows:
        line = f"{row['rule']:40s} {row['accuracy']:8.2f} {row['tokens'] / 1000:8.1f}k"
        for beta in CMC_BETAS:
            gain = row.get(f"over_cmc_{beta}")
            if isinstance(gain, dict):
                low, high = gain["ci95"]
                line += f"  {gain['gain']:+.2f} [{low:+.2f}, {high:+.2f}]"
        print(line)
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
