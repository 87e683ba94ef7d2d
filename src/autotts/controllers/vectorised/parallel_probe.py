"""Parallel-Probe over a whole batch of episodes.

Chains of an episode advance in lock-step, so at every step each live chain has
had the same number of reads: one array of read counts per episode is the whole
branch state. Episodes leave the working set as soon as they stop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from autotts.controllers.vectorised.tally import plurality
from autotts.data.records import NO_ANSWER
from autotts.env.batch import BatchOutcome, EpisodeBatch

if TYPE_CHECKING:
    from autotts.controllers.parallel_probe import ParallelProbe

__all__ = ["run_parallel_probe"]

_NONE = -2  # "no winner yet": differs from every answer id and from NO_ANSWER


def run_parallel_probe(batch: EpisodeBatch, pp: ParallelProbe) -> BatchOutcome:
    size = batch.size
    answer = np.full(size, NO_ANSWER, dtype=np.int64)
    cost = np.zeros(size)
    seq_cost = np.zeros(size)
    n = min(pp.num_chains, batch.pool_size)
    if n == 0:
        return BatchOutcome(answer, cost, seq_cost)

    # Working set: one row per running episode.
    row = np.arange(size)
    chains = batch.branches[:, :n]
    n_probes = batch.n_probes[chains]
    freq = batch.probe_freq
    reads = np.ones((size, n), dtype=np.int64)
    latest = batch.answer_after(chains, reads)
    pruned = np.zeros((size, n), dtype=bool)
    off_track = np.zeros((size, n), dtype=np.int64)
    stable = np.zeros(size, dtype=np.int64)
    prev = np.full(size, _NONE, dtype=np.int64)

    def settle(stop: np.ndarray, result: np.ndarray) -> None:
        """Record the stopping rows' answer and cost, then drop them from the working set."""
        nonlocal row, chains, n_probes, freq, reads, latest, pruned, off_track, stable, prev
        spent = batch.cost_after(chains[stop], reads[stop], freq[stop][:, None])
        answer[row[stop]] = np.where(result[stop] == _NONE, NO_ANSWER, result[stop])
        cost[row[stop]] = spent.sum(axis=1)
        seq_cost[row[stop]] = spent.max(axis=1)
        keep = ~stop
        row, chains, n_probes, freq = row[keep], chains[keep], n_probes[keep], freq[keep]
        reads, latest, pruned, off_track = reads[keep], latest[keep], pruned[keep], off_track[keep]
        stable, prev = stable[keep], prev[keep]

    for step in range(pp.max_steps):
        if row.size == 0:
            break
        # forward: each live chain reads up to probe_burst more probes, stopping when finished
        grow = ~pruned & (reads <= n_probes)
        reads = reads + np.where(grow, np.minimum(pp.probe_burst, n_probes + 1 - reads), 0)
        latest = np.where(grow, batch.answer_after(chains, reads), latest)
        finished = reads > n_probes
        active = ~pruned
        winner = plurality(latest, active, batch.n_answers)[0]

        if step >= pp.warm_up:
            judged = active & ~finished & (active.sum(axis=1) > 1)[:, None]
            off_track = np.where(
                judged, np.where(latest != winner[:, None], off_track + 1, 0), off_track
            )
            newly = judged & (off_track >= pp.prune_patience)
            if newly.any():
                pruned = pruned | newly
                active = ~pruned
                hit = newly.any(axis=1)
                winner = np.where(hit, plurality(latest, active, batch.n_answers)[0], winner)
                emptied = ~active.any(axis=1)
                if emptied.any():
                    settle(emptied, prev)
                    keep = ~emptied
                    winner, finished, active = winner[keep], finished[keep], active[keep]

        stable = np.where(winner == prev, stable + 1, 0)
        prev = winner
        done = (stable >= pp.T) | (finished | pruned).all(axis=1)
        if done.any():
            settle(done, winner)
    if row.size:
        settle(np.ones(row.size, dtype=bool), prev)
    return BatchOutcome(answer, cost, seq_cost)
