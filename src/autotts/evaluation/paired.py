"""The paired bootstrap over questions, and two controllers compared at matched tokens.

This is the one implementation of the paired bootstrap in autotts: ``autotts compare``,
the optimiser's objective and the held-out gains (:mod:`autotts.evaluation.paired_gain`,
for ``autotts optimize`` and ``autotts discover``'s verdict alike) all draw their
resamples through :func:`resample_means`.

**The statistic.** Two controllers run on the same questions of the same files. Per file
(a *cell*: one model × benchmark) and question, ``d[q]`` is A's accuracy minus B's, in
points, each averaged over the protocol's replicates. The gain is the mean over cells of
each cell's mean ``d``: every file weighs the same, whatever its number of questions.

**The resampling.** A bootstrap draw picks, per cell, as many questions as it has, with
replacement, and recomputes the gain. Cells that hold the *same questions* (one
benchmark's file for several models: the same questions in the same order) may share
one draw: then a question drawn twice counts twice for every model, which is what
"resample questions, not (model, question) pairs" means. Models answer a question
alike more often than not (a hard question is hard for all of them), so drawing models
independently would understate the spread of a pooled gain. Cells of a *group* share
their draws; with no groups, every cell is resampled on its own (the optimiser's
objective, and the held-out gains' ``ci95_per_file``).

The interval is the percentile interval of the draws at ``level`` (equal tails); the
draws come from ``numpy.random.default_rng(seed)``, taken cell by cell in the order
given, a group's at its first cell, so the same inputs give the same interval.

**Matched tokens** (:func:`compare`): each of A's operating points (a β) is compared
with a point of B's curve chosen by tokens, in the scope of the row (one cell's mean
tokens per question for a cell's row, the mean over cells for the pooled row):

* ``at-least`` (default): B's cheapest point whose mean tokens are at least A's. B
  never gets fewer tokens than A, so a positive gain is not bought with tokens. When
  every B point spends less than A, B's most expensive point is used and the row is
  marked unmatched.
* ``interpolate``: B's curve at exactly A's mean tokens, between the two B points that
  bracket them (in tokens): per question, ``(1 − w)·B_lo + w·B_hi`` with ``w`` making
  the mixture's mean tokens A's. That mixture is a controller one could run (β_lo on a
  share ``1 − w`` of the episodes, β_hi on the rest), so the comparison stays paired
  and exact. Outside B's token range, the nearest end is used.

A row is *matched* when B's point spends at least A's mean tokens; an unmatched row
(B's whole curve is cheaper than A) compares A with a B that had fewer tokens.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from autotts.errors import UnknownName, UsageError
from autotts.evaluation.results import EvalResult

__all__ = [
    "MATCH_RULES",
    "Cell",
    "CurvePoint",
    "Interval",
    "compare",
    "paired_bootstrap",
    "question_diffs",
    "question_key",
    "resample_means",
]

FloatArray = npt.NDArray[np.float64]
#: (model, benchmark)
Cell = tuple[str, str]
MATCH_RULES = ("at-least", "interpolate")


def resample_means(
    diffs: Sequence[FloatArray],
    draws: int,
    rng: np.random.Generator,
    groups: Sequence[Hashable] | None = None,
) -> FloatArray:
    """``draws`` bootstrap values of the mean over cells of each cell's mean difference.

    ``diffs[i]`` is cell ``i``'s per-question difference; ``groups[i]`` names its
    question set: cells with one name share their question draws (and must have as
    many questions). ``None``: every cell is its own group. Draws are taken from
    ``rng`` cell by cell, a group's when its first cell comes.
    """
    if not diffs:
        raise ValueError("no cells to resample")
    keys: Sequence[Hashable] = range(len(diffs)) if groups is None else groups
    if len(keys) != len(diffs):
        raise ValueError(f"{len(keys)} groups for {len(diffs)} cells")
    picks: dict[Hashable, npt.NDArray[np.int64]] = {}
    total = np.zeros(draws)
    for d, key in zip(diffs, keys):
        if key not in picks:
            picks[key] = rng.integers(0, d.size, size=(draws, d.size))
        elif picks[key].shape[1] != d.size:
            raise ValueError(
                f"cells of group {key!r} differ in questions ({picks[key].shape[1]} vs {d.size})"
            )
        total += d[picks[key]].mean(axis=1)
    total /= len(diffs)
    return total


@dataclass(frozen=True)
class Interval:
    """A gain (points) with its bootstrap interval and the share of draws at or below 0."""

    gain: float
    low: float
    high: float
    level: float
    p_not_positive: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "gain": self.gain,
            "ci": [self.low, self.high],
            "level": self.level,
            "p_not_positive": self.p_not_positive,
        }


def paired_bootstrap(
    diffs: Sequence[FloatArray],
    *,
    groups: Sequence[Hashable] | None = None,
    draws: int = 10_000,
    seed: int = 0,
    level: float = 0.95,
) -> Interval:
    """The gain (mean over cells of the mean per-question difference) and its interval."""
    if not 0.0 < level < 1.0:
        raise UsageError(f"the confidence level must be between 0 and 1, got {level:g}")
    if draws < 1:
        raise UsageError(f"the bootstrap needs at least one resample, got {draws}")
    boot = resample_means(diffs, draws, np.random.default_rng(seed), groups)
    gain = float(np.mean([d.mean() for d in diffs]))
    # rounded so that 95 % gives exactly the 2.5th and 97.5th percentiles, as before
    tail = round(50.0 * (1.0 - level), 10)
    low, high = np.percentile(boot, [tail, 100.0 - tail])
    return Interval(gain, float(low), float(high), level, float((boot <= 0).mean()))


def question_diffs(a: Sequence[Any], b: Sequence[Any]) -> list[FloatArray]:
    """Per cell, A's accuracy minus B's per question, in points, from two lists of
    episode tables (:class:`~autotts.evaluation.runner.EpisodeTable`, replicates ×
    questions) or of ``correct`` arrays."""

    def correct(x: Any) -> Any:
        return getattr(x, "correct", x)

    return [100.0 * (correct(x).mean(axis=0) - correct(y).mean(axis=0)) for x, y in zip(a, b)]


def question_key(benchmark: str, texts: Sequence[str]) -> str:
    """What makes two files hold "the same questions": the benchmark and every
    question's text, in order (a digest). Cells with one key are resampled jointly."""
    digest = hashlib.sha256("\x00".join(texts).encode("utf-8")).hexdigest()[:16]
    return f"{benchmark}:{digest}"


@dataclass(frozen=True)
class CurvePoint:
    """One operating point of a controller: its β and, per cell, per-question numbers."""

    beta: float | None
    #: per cell: per-question accuracy (%) and mean tokens
    accuracy: Mapping[Cell, FloatArray]
    tokens: Mapping[Cell, FloatArray]

    @classmethod
    def from_results(cls, beta: float | None, results: Sequence[EvalResult]) -> CurvePoint:
        """The point from one result per cell (their ``metrics.per_question``)."""
        accuracy: dict[Cell, FloatArray] = {}
        tokens: dict[Cell, FloatArray] = {}
        for r in results:
            cell = (str(r.data["model"]), str(r.data["benchmark"]))
            rows = r.metrics.per_question
            if not rows:
                raise ValueError(f"{cell[0]}/{cell[1]}: the result has no per-question numbers")
            accuracy[cell] = np.array([q.accuracy for q in rows], dtype=np.float64)
            tokens[cell] = np.array([q.tokens for q in rows], dtype=np.float64)
        return cls(beta, accuracy, tokens)

    def mean_tokens(self, cells: Sequence[Cell]) -> float:
        return float(np.mean([self.tokens[c].mean() for c in cells]))


@dataclass(frozen=True)
class _Mix:
    """A point of B's curve as a mixture of at most two of its points."""

    points: tuple[CurvePoint, ...]
    weights: tuple[float, ...]
    matched: bool

    def per_question(self, cell: Cell, what: str) -> FloatArray:
        """The mixture's per-question ``accuracy`` or ``tokens`` (one point: its own)."""
        out = np.zeros(self.points[0].accuracy[cell].shape)
        for p, w in zip(self.points, self.weights):
            out = out + w * (p.accuracy if what == "accuracy" else p.tokens)[cell]
        return out


def _match(curve: Sequence[CurvePoint], cells: Sequence[Cell], target: float, rule: str) -> _Mix:
    """The point of ``curve`` at ``target`` mean tokens over ``cells`` (module docstring)."""
    by_tokens = sorted(curve, key=lambda p: p.mean_tokens(cells))
    spent = [p.mean_tokens(cells) for p in by_tokens]
    if rule == "at-least":
        for p, t in zip(by_tokens, spent):
            if t >= target:
                return _Mix((p,), (1.0,), True)
        return _Mix((by_tokens[-1],), (1.0,), False)
    # interpolate
    if target <= spent[0]:  # B's cheapest point already spends as much or more
        return _Mix((by_tokens[0],), (1.0,), True)
    if target >= spent[-1]:
        return _Mix((by_tokens[-1],), (1.0,), target == spent[-1])
    i = next(k for k in range(1, len(spent)) if spent[k] >= target)
    lo, hi = spent[i - 1], spent[i]
    w = (target - lo) / (hi - lo)
    return _Mix((by_tokens[i - 1], by_tokens[i]), (1.0 - w, w), True)


def _mean(arrays: Sequence[FloatArray]) -> float:
    """The mean over cells of each cell's mean."""
    return float(np.mean([x.mean() for x in arrays]))


def compare(
    a: Sequence[CurvePoint],
    b: Sequence[CurvePoint],
    groups: Mapping[Cell, Hashable],
    *,
    match: str = "at-least",
    draws: int = 10_000,
    seed: int = 0,
    level: float = 0.95,
) -> list[dict[str, Any]]:
    """Rows of A − B at matched tokens: per A point, one per cell, then one pooled.

    ``groups`` names each cell's question set (:func:`question_key`); the pooled row's
    bootstrap resamples the cells of one group jointly. Every point of ``a`` and ``b``
    must cover the cells of ``groups``, with the same questions.
    """
    if match not in MATCH_RULES:
        raise UnknownName("matching rule", match, MATCH_RULES)
    if not a or not b:
        raise ValueError("both controllers need at least one point")
    cells = list(groups)
    for p in [*a, *b]:
        missing = [c for c in cells if c not in p.accuracy]
        if missing:
            raise ValueError(f"a point (β={p.beta}) lacks {missing[0][0]}/{missing[0][1]}")
    rows: list[dict[str, Any]] = []
    for point in a:
        scopes: list[tuple[str, list[Cell]]] = [("cell", [c]) for c in cells]
        scopes.append(("pooled", cells))
        for scope, members in scopes:
            mix = _match(b, members, point.mean_tokens(members), match)
            diffs = []
            for c in members:
                theirs = mix.per_question(c, "accuracy")
                if theirs.shape != point.accuracy[c].shape:
                    raise ValueError(f"{c[0]}/{c[1]}: A and B differ in questions")
                diffs.append(point.accuracy[c] - theirs)
            interval = paired_bootstrap(
                diffs, groups=[groups[c] for c in members], draws=draws, seed=seed, level=level
            )
            rows.append(
                {
                    "scope": scope,
                    "model": members[0][0] if scope == "cell" else None,
                    "benchmark": members[0][1] if scope == "cell" else None,
                    "cells": len(members),
                    "a_beta": point.beta,
                    "a_accuracy": _mean([point.accuracy[c] for c in members]),
                    "a_tokens": _mean([point.tokens[c] for c in members]),
                    "b_betas": [p.beta for p in mix.points],
                    "b_weights": list(mix.weights),
                    "b_accuracy": _mean([mix.per_question(c, "accuracy") for c in members]),
                    "b_tokens": _mean([mix.per_question(c, "tokens") for c in members]),
                    "matched": mix.matched,
                    **interval.to_dict(),
                }
            )
    return rows
