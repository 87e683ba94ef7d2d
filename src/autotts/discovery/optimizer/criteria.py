"""Scores of a candidate's search-set curve against CMC, per question, and robust readings.

A candidate is compared with CMC at a set of token *budgets*, each with a weight:

* ``two-point``: CMC's published operating points (β = 0.5 and β = 1.0), weight ½
  each; the candidate's best grid point within each budget against CMC's point;
* ``auc``: 48 budgets spaced evenly in log tokens over CMC's whole range (its β = 0
  to β = 1 tokens); at each budget, the best point of either curve within it, so the
  score is the area between the two budget curves over CMC's range divided by its
  width. A curve that stops short is penalised: below its cheapest point it answers
  nothing (0 %), and the share of the range above its dearest point costs
  ``REACH_PENALTY`` points (there it is flat while CMC still climbs).

Which grid point serves a budget is a *choice* made on some questions (mean tokens
and accuracy over them); the score is then read on questions that may differ. That
separation is what makes the robust readings honest:

* :func:`cv_score`: K folds of questions; each fold is scored with the choices made
  on the other folds (cross-validation of the one thing a curve fits: its β choice);
* :func:`bootstrap_score`: a low quantile of the mean gain over question resamples
  (questions drawn jointly for every file: the search files are one benchmark
  across models, so a question is one unit).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from autotts.discovery.optimizer.objective import Curves
from autotts.evaluation.paired import resample_means

__all__ = [
    "AUC_BUDGETS",
    "METRICS",
    "REACH_PENALTY",
    "Budgets",
    "QuestionTable",
    "bootstrap_score",
    "budgets_for",
    "cv_score",
    "per_question_gain",
    "plain_score",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

METRICS = ("two-point", "auc")
AUC_BUDGETS = 48
#: Points charged per unit share of CMC's log-token range beyond a curve's dearest point.
REACH_PENALTY = 1.0
#: A two-point budget with no candidate point within it scores this (as the objective did).
NO_POINT = -10.0


@dataclass(frozen=True)
class QuestionTable:
    """``acc[j, f, q]`` (%) and ``tok[j, f, q]``: per grid point, file and question (seed means)."""

    betas: tuple[float, ...]
    acc: FloatArray
    tok: FloatArray

    @classmethod
    def from_curves(cls, curves: Curves, n_questions: int) -> QuestionTable:
        acc = np.array(
            [[100.0 * c.mean(axis=0)[:n_questions] for c in row] for row in curves.correct]
        )
        tok = np.array([[t.mean(axis=0)[:n_questions] for t in row] for row in curves.tokens])
        return cls(curves.betas, acc, tok)

    @property
    def n_questions(self) -> int:
        return int(self.acc.shape[2])

    def means(self, questions: IntArray) -> tuple[FloatArray, FloatArray]:
        """Mean accuracy and tokens per grid point over files and ``questions``."""
        return (
            self.acc[:, :, questions].mean(axis=(1, 2)),
            self.tok[:, :, questions].mean(axis=(1, 2)),
        )

    def per_question(self) -> tuple[FloatArray, FloatArray]:
        """File-averaged accuracy and tokens per grid point and question."""
        return self.acc.mean(axis=1), self.tok.mean(axis=1)


@dataclass(frozen=True)
class Budgets:
    """Budgets (tokens) with weights, and CMC's chosen grid point at each."""

    tokens: FloatArray
    weights: FloatArray
    cmc_choice: IntArray


def budgets_for(cmc: QuestionTable, metric: str, questions: IntArray) -> Budgets:
    """The budgets of ``metric``, read from CMC's curve on ``questions``."""
    acc, tok = cmc.means(questions)
    if metric == "two-point":
        idx = np.array([cmc.betas.index(b) for b in (0.5, 1.0)], dtype=np.int64)
        return Budgets(tok[idx], np.full(2, 0.5), idx)
    if metric != "auc":
        raise ValueError(f"unknown metric {metric!r}")
    lo, hi = float(tok.min()), float(tok.max())
    tokens = np.exp(np.linspace(np.log(lo), np.log(hi), AUC_BUDGETS))
    return Budgets(tokens, np.full(AUC_BUDGETS, 1.0 / AUC_BUDGETS), _choose(acc, tok, tokens))


def _choose(acc: FloatArray, tok: FloatArray, budgets: FloatArray) -> IntArray:
    """Per budget, the grid point of best accuracy within it (-1: none within)."""
    within = tok[None, :] <= budgets[:, None] * (1 + 1e-12)
    score = np.where(within, acc[None, :], -np.inf)
    pick = np.argmax(score, axis=1)
    return np.where(within.any(axis=1), pick, -1).astype(np.int64)


def per_question_gain(
    cand: QuestionTable,
    cmc: QuestionTable,
    metric: str,
    choose_on: IntArray,
    score_on: IntArray,
) -> FloatArray:
    """Gain (points) on each question of ``score_on``, choices made on ``choose_on``.

    The mean of the returned vector is the score; penalties (no point within a
    budget, a curve stopping short) are spread evenly over the questions.
    """
    budgets = budgets_for(cmc, metric, choose_on)
    acc, tok = cand.means(choose_on)
    mine = _choose(acc, tok, budgets.tokens)
    cand_q, _ = cand.per_question()
    cmc_q, _ = cmc.per_question()
    gain = np.zeros(score_on.size)
    for b, w in enumerate(budgets.weights):
        ref = cmc_q[budgets.cmc_choice[b], score_on]
        if mine[b] >= 0:
            gain += w * (cand_q[mine[b], score_on] - ref)
        elif metric == "two-point":  # as the objective always did: -10 minus the excess
            gain += w * (NO_POINT - float(tok.min() / budgets.tokens[b] - 1.0))
        else:  # nothing affordable at this budget: 0 % accuracy
            gain -= w * ref
    if metric == "auc":
        beyond = float(budgets.weights[budgets.tokens > tok.max() * (1 + 1e-12)].sum())
        gain -= REACH_PENALTY * beyond
    return gain


def plain_score(cand: QuestionTable, cmc: QuestionTable, metric: str, questions: IntArray) -> float:
    """Choices and score on the same questions (what the fit/validation split uses)."""
    return float(per_question_gain(cand, cmc, metric, questions, questions).mean())


def folds(n_questions: int, k: int, seed: int) -> list[IntArray]:
    """``k`` disjoint, seeded folds covering every question."""
    order = np.random.default_rng(seed).permutation(n_questions)
    return [np.sort(part).astype(np.int64) for part in np.array_split(order, k)]


def cv_score(cand: QuestionTable, cmc: QuestionTable, metric: str, seed: int, k: int = 5) -> float:
    """Mean over every question of its gain, read with choices made without its fold."""
    n = cand.n_questions
    k = max(2, min(k, n))
    everyone = np.arange(n)
    total = 0.0
    for fold in folds(n, k, seed):
        rest = np.setdiff1d(everyone, fold)
        total += float(per_question_gain(cand, cmc, metric, rest, fold).sum())
    return total / n


def bootstrap_score(
    cand: QuestionTable,
    cmc: QuestionTable,
    metric: str,
    seed: int,
    draws: int = 200,
    quantile: float = 0.25,
) -> float:
    """``quantile`` of the mean gain over question resamples (choices on all questions)."""
    everyone = np.arange(cand.n_questions)
    gain = per_question_gain(cand, cmc, metric, everyone, everyone)
    means = resample_means([gain], draws, np.random.default_rng(seed))
    return float(np.quantile(means, quantile))
