"""Plurality votes over rows of branch answers."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from autotts.data.records import NO_ANSWER

__all__ = ["plurality"]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Larger than any tie-break rank a caller passes (ranks are < 2**20).
_RANK_SPAN = 1 << 20


def plurality(
    answers: IntArray,
    counted: BoolArray,
    vocab: IntArray,
    rank: IntArray | None = None,
    *,
    runner_up: bool = True,
) -> tuple[IntArray, IntArray, IntArray]:
    """Per row: the most frequent counted answer and the two highest vote counts.

    ``vocab[r]`` bounds the answer ids counted in row ``r``: votes are tallied in
    one flat table with a slice of that size per row, so small vocabularies
    (final answers only) make it cheap. Ties go to the answer whose earliest
    counted entry has the lowest ``rank`` (default: the column, i.e. the order the
    answers were added in) - the behaviour of ``Counter.most_common`` on the
    answers listed in that order. Rows with nothing counted get ``NO_ANSWER`` and
    zero counts. ``runner_up=False`` skips the second count (returned as zeros).
    """
    rows = answers.shape[0]
    ends = np.cumsum(vocab)
    if rows == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    # entries not counted may hold ids beyond their row's vocab: point them at slot 0
    keys = np.where(counted, (ends - vocab)[:, None] + answers, 0)
    votes = np.bincount(keys[counted], minlength=int(ends[-1]))
    count = np.where(counted, votes[keys], 0)
    top1 = count.max(axis=1, initial=0)
    if rank is None:
        pick = np.argmax(count, axis=1)  # first column holding the top count
    else:
        pick = np.argmax(np.where(counted, count * _RANK_SPAN - rank, -1), axis=1)
    winner = answers[np.arange(rows), pick]
    winner = np.where(top1 > 0, winner, NO_ANSWER)
    if not runner_up:
        return winner, top1, np.zeros_like(top1)
    top2 = np.where(counted & (answers != winner[:, None]), count, 0).max(axis=1, initial=0)
    return winner, top1, top2
