"""SC, ASC and ESC: controllers that full-read branches one after another.

A full read returns a branch's final answer and costs its whole length, so an
episode of these controllers is a prefix of its pool: all that differs between
them is where the prefix stops and how its answers are voted.
"""

from __future__ import annotations

import numpy as np

from autotts.controllers.vectorised.tally import plurality
from autotts.controllers.voting import confidence_table
from autotts.data.records import NO_ANSWER
from autotts.env.batch import BatchOutcome, EpisodeBatch

__all__ = ["run_adaptive_consistency", "run_early_stopping", "run_self_consistency"]


def _prefix_outcome(batch: EpisodeBatch, answer: np.ndarray, reads: np.ndarray) -> BatchOutcome:
    """Cost of reading the first ``reads[e]`` branches of each episode in full."""
    tokens = batch.tokens[batch.branches]
    within = np.arange(batch.pool_size)[None, :] < reads[:, None]
    tokens = np.where(within, tokens, 0)
    return BatchOutcome(
        answer=answer.astype(np.int64),
        cost=tokens.sum(axis=1).astype(np.float64),
        sequential_cost=tokens.max(axis=1, initial=0).astype(np.float64),
    )


def _prefix_majority(batch: EpisodeBatch, reads: np.ndarray) -> np.ndarray:
    finals = batch.final[batch.branches]
    within = np.arange(batch.pool_size)[None, :] < reads[:, None]
    return plurality(finals, within, batch.final_vocab)[0]


def run_self_consistency(batch: EpisodeBatch, n: int) -> BatchOutcome:
    reads = np.full(batch.size, min(n, batch.pool_size), dtype=np.int64)
    return _prefix_outcome(batch, _prefix_majority(batch, reads), reads)


def run_adaptive_consistency(
    batch: EpisodeBatch, max_samples: int, threshold: float
) -> BatchOutcome:
    limit = min(max_samples, batch.pool_size)
    finals = batch.final[batch.branches]
    size = batch.size
    rows = np.arange(size)
    counts = np.zeros((size, int(batch.final_vocab.max(initial=1))), dtype=np.int64)
    reads = np.full(size, limit, dtype=np.int64)
    stopped = np.zeros(size, dtype=bool)
    table = confidence_table()
    # The two highest vote counts, kept up to date one read at a time: a read can
    # only lift its own answer by one, so it either extends the leader, overtakes a
    # tied leader (whose count becomes the runner-up), or raises the runner-up.
    leader = np.full(size, -1, dtype=np.int64)
    top1 = np.zeros(size, dtype=np.int64)
    top2 = np.zeros(size, dtype=np.int64)
    for k in range(limit):
        read = finals[:, k]
        counts[rows, read] += 1
        votes = counts[rows, read]
        extends = read == leader
        overtakes = ~extends & (votes > top1)
        top2 = np.where(
            overtakes, top1, np.where(~extends & ~overtakes, np.maximum(top2, votes), top2)
        )
        top1 = np.where(extends | overtakes, votes, top1)
        leader = np.where(overtakes, read, leader)
        if k == 0:
            continue
        stop = ~stopped & (table[top1, top2] > threshold)
        reads[stop] = k + 1
        stopped |= stop
        if stopped.all():
            break
    # ties within a prefix go to the answer read first: plurality over the prefix does that
    return _prefix_outcome(batch, _prefix_majority(batch, reads), reads)


def run_early_stopping(batch: EpisodeBatch, max_samples: int, window_size: int) -> BatchOutcome:
    finals = batch.final[batch.branches]
    size, pool = finals.shape
    reads = np.full(size, min(pool, (max_samples // window_size) * window_size), dtype=np.int64)
    answer = np.full(size, NO_ANSWER, dtype=np.int64)
    stopped = np.zeros(size, dtype=bool)
    for w in range(max_samples // window_size):
        start, end = w * window_size, min((w + 1) * window_size, pool)
        if start >= end:
            break  # the pool is exhausted: every later window is empty too
        window = finals[:, start:end]
        unanimous = ~stopped & (window == window[:, :1]).all(axis=1)
        reads[unanimous] = end
        answer[unanimous] = window[unanimous, 0]
        stopped |= unanimous
    rest = ~stopped
    answer[rest] = _prefix_majority(batch, reads)[rest]
    return _prefix_outcome(batch, answer, reads)
