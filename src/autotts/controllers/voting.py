"""Vote counting shared by the controllers (``replay-protocol.md`` §4).

* :func:`majority`: most frequent answer, ties to the one seen first
  (``Counter.most_common`` does exactly that: it sorts stably by count).
* :func:`vote_stats`: winner and the two highest counts.
* :func:`weighted_majority`: the answer with the largest total weight (e.g. the
  probes' confidences), ties to the one seen first, as :func:`majority`.
* :func:`beta_confidence`: ``1 - I_0.5(top1+1, top2+1)``, the posterior probability
  that the leader holds more than half the votes. It is read from a table filled
  once by SciPy's regularized incomplete beta function, which is what
  ``scipy.stats.beta.cdf`` evaluates, so values are bit-for-bit those of the
  published code (an exact rational evaluation differs in the last bit for ~20 %
  of entries, and the stopping rules compare these values against thresholds).
"""

from __future__ import annotations

# The counting loop behind Counter.update (in C on CPython, with collections' own
# Python fallback elsewhere); see _counts().
from collections import _count_elements  # type: ignore[attr-defined]
from collections.abc import Hashable, Sequence
from functools import lru_cache
from operator import itemgetter
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "beta_confidence",
    "confidence_table",
    "majority",
    "use_table_rows",
    "vote_stats",
    "weighted_majority",
]

A = TypeVar("A", bound=Hashable)

#: Vote counts up to this size are served from the precomputed table.
TABLE_SIZE = 160


def _counts(answers: Sequence[A]) -> dict[A, int]:
    """How often each answer occurs, keyed in first-appearance order (as ``Counter``).

    Controllers call the vote helpers after nearly every read, and ``Counter``'s
    Python-level ``__init__``/``update`` cost more than the counting itself on a few
    dozen answers; its C counting loop fills a plain dict directly (about a third
    less time per call, measured).
    """
    counts: dict[A, int] = {}
    _count_elements(counts, answers)
    return counts


def majority(answers: Sequence[A]) -> A | None:
    """The most frequent answer; ties go to the answer that appeared first. ``None`` if empty."""
    if not answers:
        return None
    counts = _counts(answers)
    # max() keeps the first of equal counts, in first-appearance order: most_common(1)'s pick
    return max(counts.items(), key=itemgetter(1))[0]


def weighted_majority(answers: Sequence[A], weights: Sequence[float]) -> A | None:
    """The answer whose votes weigh most in total (``weights[i]`` is ``answers[i]``'s);
    ties go to the answer that appeared first. ``None`` if empty. With every weight 1
    it is :func:`majority`."""
    totals: dict[A, float] = {}
    for answer, weight in zip(answers, weights):
        totals[answer] = totals.get(answer, 0.0) + weight
    if not totals:
        return None
    return max(totals.items(), key=itemgetter(1))[0]


def vote_stats(answers: Sequence[A]) -> tuple[A | None, int, int]:
    """``(winner, top1, top2)``: the majority answer and the two highest vote counts."""
    if not answers:
        return None, 0, 0
    counts = _counts(answers)
    winner = max(counts.items(), key=itemgetter(1))[0]  # as in majority()
    if len(counts) == 1:
        return winner, counts[winner], 0
    # the two highest counts, without most_common(2)'s heap (the controllers' hot loop)
    top = sorted(counts.values())
    return winner, top[-1], top[-2]


@lru_cache(maxsize=4)
def confidence_table(size: int = TABLE_SIZE) -> npt.NDArray[np.float64]:
    """``table[top1, top2]`` = Beta majority confidence for counts below ``size``."""
    # Lazily: only the first call pays for SciPy, and the sandbox's PyPy worker (no
    # NumPy there) imports this module for the vote helpers alone.
    import numpy as np

    # start-up time: SciPy loads on the first exact confidence, not with the vote helpers
    from scipy.special import betainc

    top1 = np.arange(size, dtype=np.float64)[:, None]
    top2 = np.arange(size, dtype=np.float64)[None, :]
    table = 1 - betainc(top1 + 1, top2 + 1, 0.5)
    table[0, :] = 0.0  # no votes, no confidence
    table.setflags(write=False)
    return np.asarray(table, dtype=np.float64)


_rows: list[tuple[tuple[float, ...], ...]] = []


def _table_rows() -> tuple[tuple[float, ...], ...]:
    """:func:`confidence_table` as Python floats (indexing a tuple is cheaper than NumPy)."""
    if not _rows:
        _rows.append(tuple(tuple(row) for row in confidence_table().tolist()))
    return _rows[0]


def use_table_rows(rows: list[list[float]]) -> None:
    """Serve :func:`beta_confidence` from ``rows`` (:func:`confidence_table` as lists, made
    elsewhere): the sandbox's PyPy worker has no SciPy and gets them from its parent."""
    if len(rows) != TABLE_SIZE or any(len(row) != TABLE_SIZE for row in rows):
        raise ValueError(f"a confidence table is {TABLE_SIZE} rows of {TABLE_SIZE} values")
    _rows[:] = [tuple(tuple(float(v) for v in row) for row in rows)]


def beta_confidence(top1: int, top2: int) -> float:
    """Probability under Beta(top1+1, top2+1) that the leader's share exceeds one half."""
    if top1 <= 0:
        return 0.0
    if top1 < TABLE_SIZE and top2 < TABLE_SIZE:
        return _table_rows()[top1][top2]
    # start-up time: SciPy loads on the first exact confidence, not with the vote helpers
    from scipy.special import betainc

    return float(1 - betainc(top1 + 1, top2 + 1, 0.5))
