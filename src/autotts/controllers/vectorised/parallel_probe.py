"""Parallel-Probe over a whole batch of episodes.

Chains of an episode advance in lock-step, so a chain's state is its number of
reads, its latest answer and two flags. The majority of an episode is recounted
only when one of its chains changed answer or was pruned; stopped episodes are
masked and leave the arrays once a quarter of them have stopped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

    chains = np.ascontiguousarray(batch.branches[:, :n])
    state = {
        "row": np.arange(size),
        "running": np.ones(size, dtype=bool),
        "chains": chains,
        "n_probes": batch.n_probes[chains],
        "freq": batch.probe_freq,
        "vocab": batch.vocab,
        "reads": np.ones((size, n), dtype=np.int64),
        "latest": batch.answer_after(chains, np.ones((size, n), dtype=np.int64)),
        "pruned": np.zeros((size, n), dtype=bool),
        "off_track": np.zeros((size, n), dtype=np.int64),
        "stable": np.zeros(size, dtype=np.int64),
        "prev": np.full(size, _NONE, dtype=np.int64),
        "winner": np.full(size, _NONE, dtype=np.int64),
    }
    st = state

    def recount(rows: Any) -> None:
        r = np.flatnonzero(rows)
        if r.size:
            st["winner"][r] = plurality(
                st["latest"][r], ~st["pruned"][r], st["vocab"][r], runner_up=False
            )[0]

    def settle(stop: np.ndarray, result: np.ndarray) -> None:
        r = np.flatnonzero(stop)
        spent = batch.cost_after(st["chains"][r], st["reads"][r], st["freq"][r][:, None])
        answer[st["row"][r]] = np.where(result[r] == _NONE, NO_ANSWER, result[r])
        cost[st["row"][r]] = spent.sum(axis=1)
        seq_cost[st["row"][r]] = spent.max(axis=1)
        st["running"][r] = False

    recount(st["running"])
    for step in range(pp.max_steps):
        running = st["running"]
        if running.sum() < 0.75 * running.size:
            for key in state:
                state[key] = state[key][running]
            running = st["running"]
        if not running.any():
            break
        reads, n_probes, pruned = st["reads"], st["n_probes"], st["pruned"]

        # forward: each live chain reads up to probe_burst more probes, stopping when finished
        grow = ~pruned & (reads <= n_probes) & running[:, None]
        reads += np.where(grow, np.minimum(pp.probe_burst, n_probes + 1 - reads), 0)
        moved = np.flatnonzero(grow)
        flat_latest = st["latest"].reshape(-1)
        fresh = batch.answer_after(st["chains"].reshape(-1)[moved], reads.reshape(-1)[moved])
        changed = np.zeros(reads.shape, dtype=bool)
        changed.reshape(-1)[moved] = fresh != flat_latest[moved]
        flat_latest[moved] = fresh
        recount(changed.any(axis=1))
        finished = reads > n_probes
        active = ~pruned

        if step >= pp.warm_up:
            judged = active & ~finished & ((active.sum(axis=1) > 1) & running)[:, None]
            off = st["off_track"]
            st["off_track"] = np.where(
                judged, np.where(st["latest"] != st["winner"][:, None], off + 1, 0), off
            )
            newly = judged & (st["off_track"] >= pp.prune_patience)
            if newly.any():
                pruned |= newly
                hit = newly.any(axis=1)
                emptied = hit & pruned.all(axis=1)
                if emptied.any():
                    settle(emptied, st["prev"])
                recount(hit & ~emptied)

        running = st["running"]
        winner = st["winner"]
        st["stable"] = np.where(winner == st["prev"], st["stable"] + 1, 0)
        st["prev"] = winner.copy()
        done = running & ((st["stable"] >= pp.T) | (finished | pruned).all(axis=1))
        if done.any():
            settle(done, winner)
    if st["running"].any():
        settle(st["running"], st["prev"])
    return BatchOutcome(answer, cost, seq_cost)
