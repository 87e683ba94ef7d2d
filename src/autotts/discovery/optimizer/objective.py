"""What the optimiser maximises, computed on the search files only.

Every search file is turned into one :class:`~autotts.env.batch.EpisodeBatch` of
``seeds × questions`` episodes once (reference protocol: seed ``r`` shuffles every
question's branches), and a candidate is replayed on it with the vectorised
composed controller at each β of a grid: per β and file, a ``seeds × questions``
table of correct answers and tokens.

**The scalar.** CMC's two published operating points (β = 0.5 and β = 1.0) are
measured on the same questions; for each, the candidate's *gain* is the best mean
accuracy (in points, averaged over files) among its β whose mean tokens do not
exceed CMC's, minus CMC's accuracy (a β grid with no point under the budget scores
``-10`` minus the relative excess of its cheapest point). The objective is the mean
of the two gains minus ``part_penalty`` per active (non-neutral) part.

**Guards against fitting 30 questions.** The search set's questions are split once
(seeded) into a *fit* part, which the sampler sees, and a *validation* part, which
it never sees: trials are ranked on fit, the winner is chosen among the best
trials by validation, and the search stops early when validation stops improving.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from autotts.controllers.composable import BetaSchedule, Knobs
from autotts.controllers.composable.builtins import cmc_parts
from autotts.controllers.composable.vectorised import run_parts
from autotts.data.records import NO_ANSWER, ReplaySet
from autotts.env.batch import EpisodeBatch, merge_batches
from autotts.evaluation.paired import question_diffs, resample_means
from autotts.evaluation.protocols import ReferenceProtocol

__all__ = [
    "CMC_OPERATING_BETAS",
    "Curves",
    "SearchData",
    "active_parts",
    "cmc_reference",
    "merge_batches",
    "operating_gains",
    "split_questions",
]

#: CMC's published operating points, the budgets the objective compares at.
CMC_OPERATING_BETAS = (0.5, 1.0)
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Curves:
    """Per β (rows) and file (columns): ``correct`` / ``tokens`` as seeds × questions tables."""

    betas: tuple[float, ...]
    correct: list[list[FloatArray]]
    tokens: list[list[FloatArray]]
    seq_tokens: list[list[FloatArray]]

    def mean(self, questions: npt.NDArray[np.int64] | None = None) -> tuple[FloatArray, FloatArray]:
        """Mean accuracy (%) and tokens per β, averaged over files (optionally some questions)."""
        acc = np.zeros(len(self.betas))
        tok = np.zeros(len(self.betas))
        for i in range(len(self.betas)):
            for correct, tokens in zip(self.correct[i], self.tokens[i]):
                q = slice(None) if questions is None else questions
                acc[i] += 100.0 * correct[:, q].mean()
                tok[i] += tokens[:, q].mean()
        n = len(self.correct[0])
        return acc / n, tok / n

    def point(self, i: int, f: int, replay: ReplaySet) -> dict[str, Any]:
        """The recorded point of β ``betas[i]`` on file ``f`` (``replay``): accuracy (%) and
        tokens averaged over seeds and questions, as a trial and the winner both store it."""
        return {
            "model": replay.model,
            "benchmark": replay.benchmark,
            "beta": self.betas[i],
            "accuracy": 100.0 * float(self.correct[i][f].mean()),
            "tokens": float(self.tokens[i][f].mean()),
            "seq_tokens": float(self.seq_tokens[i][f].mean()),
        }


class SearchData:
    """The search files as one episode batch (built once; reused by every trial).

    The files' episodes are concatenated into one batch (branch ids offset per
    file), so each β costs one vectorised replay whatever the number of files.
    """

    def __init__(self, replays: Sequence[ReplaySet], seeds: int) -> None:
        self.replays = list(replays)
        self.seeds = seeds
        protocol = ReferenceProtocol(seeds=seeds)
        parts: list[EpisodeBatch] = []
        self.shapes: list[tuple[int, int]] = []
        gold = []
        for replay in self.replays:
            sizes = {q.n_branches for q in replay.questions}
            if len(sizes) != 1:
                raise ValueError(f"{replay.model}/{replay.benchmark}: questions differ in branches")
            n_q, n_branches = len(replay), sizes.pop()
            orders = np.stack([protocol.orders(n_branches, q) for q in range(n_q)], axis=1)
            batch, question_of = EpisodeBatch.replicated(replay, range(n_q), orders)
            parts.append(batch)
            self.shapes.append((seeds, n_q))
            gold.append(replay.gold_ids[question_of])
        self.batch = merge_batches(parts)
        self.gold = np.concatenate(gold)
        self.bounds = np.cumsum([0] + [s * q for s, q in self.shapes])

    @property
    def n_questions(self) -> int:
        return min(shape[1] for shape in self.shapes)

    def run(self, knobs_at: BetaSchedule | Knobs | object, betas: Sequence[float]) -> Curves:
        """Replay a schedule (``BetaSchedule`` or any ``β → Knobs`` callable) on every file."""
        correct, tokens, seq = [], [], []
        for beta in betas:
            out = run_parts(self.batch, _knobs(knobs_at, beta))
            hit = ((out.answer == self.gold) & (out.answer != NO_ANSWER)).astype(np.float64)
            row_c, row_t, row_s = [], [], []
            for f, shape in enumerate(self.shapes):
                part = slice(self.bounds[f], self.bounds[f + 1])
                row_c.append(hit[part].reshape(shape))
                row_t.append(out.cost[part].reshape(shape))
                row_s.append(out.sequential_cost[part].reshape(shape))
            correct.append(row_c)
            tokens.append(row_t)
            seq.append(row_s)
        return Curves(tuple(betas), correct, tokens, seq)


def _knobs(schedule: object, beta: float) -> Knobs:
    if isinstance(schedule, BetaSchedule):
        return schedule.knobs(beta)
    if isinstance(schedule, Knobs):
        return schedule
    if callable(schedule):
        knobs = schedule(beta)
        if isinstance(knobs, Knobs):
            return knobs
    raise TypeError(f"not a schedule: {schedule!r}")


def split_questions(n_questions: int, validation: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(fit, validation)`` question indices; the same split for every search file."""
    order = np.random.default_rng(seed).permutation(n_questions)
    val = np.sort(order[:validation])
    fit = np.sort(order[validation:])
    return fit, val


def cmc_reference(data: SearchData) -> Curves:
    """CMC at its operating points on the search data (the budgets to beat)."""
    return data.run(cmc_parts, CMC_OPERATING_BETAS)


def operating_gains(
    candidate: Curves, cmc: Curves, questions: np.ndarray | None = None
) -> list[dict[str, float]]:
    """Per CMC operating point: its accuracy/tokens and the candidate's best point within them."""
    acc, tok = candidate.mean(questions)
    ref_acc, ref_tok = cmc.mean(questions)
    gains = []
    for i, beta in enumerate(cmc.betas):
        within = np.flatnonzero(tok <= ref_tok[i])
        if within.size:
            j = int(within[np.argmax(acc[within])])
            gain = float(acc[j] - ref_acc[i])
        else:
            j = int(np.argmin(tok))
            gain = -10.0 - float(tok[j] / ref_tok[i] - 1.0)
        gains.append(
            {
                "cmc_beta": beta,
                "cmc_accuracy": float(ref_acc[i]),
                "cmc_tokens": float(ref_tok[i]),
                "beta": float(candidate.betas[j]),
                "accuracy": float(acc[j]),
                "tokens": float(tok[j]),
                "gain": gain,
            }
        )
    return gains


def active_parts(schedule: BetaSchedule) -> int:
    """Parts that differ from the neutral choice (never widen/prune/stop early, plain vote)."""
    neutral = {"widen": "never", "prune": "never", "stop": "never", "vote": "completed",
               "give_up": "never", "confidence": "counts"}  # fmt: skip
    return sum(1 for slot, part in schedule.parts.items() if neutral.get(slot, part) != part)


def bootstrap_objective(
    candidate: Curves,
    cmc: Curves,
    gains: list[dict[str, float]],
    *,
    draws: int = 200,
    quantile: float = 0.25,
    seed: int = 0,
) -> float:
    """A low quantile of the bootstrap distribution of the mean operating-point gain.

    Questions are resampled (per file, the same draws for every candidate: seed
    ``seed``); each draw recomputes the mean over files of the accuracy gain at each
    operating point (the candidate's β chosen in ``gains``) and averages the points.
    A candidate whose gain rests on a few questions scores low.
    """
    rng = np.random.default_rng(seed)  # one stream for every point: draws differ per point
    total = np.zeros(draws)
    for i, g in enumerate(gains):
        if g["gain"] <= -10.0:  # no β within the budget: the penalty stands
            total += g["gain"]
            continue
        j = candidate.betas.index(g["beta"])
        total += resample_means(question_diffs(candidate.correct[j], cmc.correct[i]), draws, rng)
    return float(np.quantile(total / len(gains), quantile))
