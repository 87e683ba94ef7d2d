"""CMC over a whole batch of episodes.

Every episode runs the same round number at the same time, so per-round scalars
(warm-up, the EMA window's fill) are shared and each branch is described by a few
integers: reads so far, probe_more calls received, disagreement streak, flags.

The one order-dependent detail is the pool's tie-break: the winner of the
completed answers is, among the most frequent, the one that completed first.
Each finished branch therefore carries a completion key that sorts like the
published controller's append order: opening order for the initial branches,
then per round the depth pass (most-probed first) and the branches opened by
widening.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from autotts.controllers.vectorised.rounds import (
    ROUND_SPAN,
    WIDEN_OFFSET,
    burst_sizes,
    depth_pass,
    prune_disagreeing,
)
from autotts.controllers.vectorised.tally import plurality
from autotts.controllers.voting import confidence_table
from autotts.data.records import NO_ANSWER
from autotts.env.batch import BatchOutcome, EpisodeBatch

if TYPE_CHECKING:
    from autotts.controllers.cmc import CMCSettings

__all__ = ["run_cmc"]

MAX_ROUNDS = 500


class _State:
    """Per-episode arrays of the working set.

    A stopped episode is only marked (``running``) and leaves the arrays at the
    next compaction, which happens once a quarter of the rows have stopped:
    compacting a dozen arrays every round would cost more than the round.
    """

    def __init__(self, batch: EpisodeBatch, capacity: int, n_init: int) -> None:
        size = batch.size
        self.row = np.arange(size)
        self.running = np.ones(size, dtype=bool)
        self.pool = np.ascontiguousarray(batch.branches[:, :capacity])
        self.n_probes = batch.n_probes[self.pool]
        self.freq = batch.probe_freq
        self.vocab = batch.vocab
        self.final_vocab = batch.final_vocab
        self.cols = np.arange(capacity)[None, :]
        opened = np.broadcast_to(self.cols < n_init, self.pool.shape)
        self.n_open = np.full(size, n_init, dtype=np.int64)
        self.reads = opened.astype(np.int64)
        self.latest = np.where(opened, batch.answer_after(self.pool, np.maximum(self.reads, 1)), 0)
        self.finished = opened & (self.reads > self.n_probes)
        self.abandoned = np.zeros((size, capacity), dtype=bool)
        self.probes = np.zeros((size, capacity), dtype=np.int64)
        self.disagree = np.zeros((size, capacity), dtype=np.int64)
        self.done_key = np.where(self.finished, self.cols, 0)
        self.ema = np.zeros(size)
        self.history = np.zeros((size, 0))
        # Pool winner and confidence; only rows whose pool changed are recounted.
        self.winner = np.full(size, NO_ANSWER, dtype=np.int64)
        self.conf = np.zeros(size)

    _PER_ROW = (
        "row", "running", "pool", "n_probes", "freq", "vocab", "final_vocab", "n_open",
        "reads", "latest", "finished", "abandoned", "probes", "disagree", "done_key",
        "ema", "history", "winner", "conf",
    )  # fmt: skip

    def compact(self) -> None:
        if self.running.sum() < 0.75 * self.running.size:
            keep = self.running
            for name in self._PER_ROW:
                setattr(self, name, getattr(self, name)[keep])

    @property
    def opened(self) -> np.ndarray:
        return self.cols < self.n_open[:, None]

    @property
    def live(self) -> np.ndarray:
        """Branches still read: opened, neither finished nor abandoned, episode running."""
        return self.opened & ~self.finished & ~self.abandoned & self.running[:, None]


def run_cmc(batch: EpisodeBatch, s: CMCSettings) -> BatchOutcome:
    size = batch.size
    answer = np.full(size, NO_ANSWER, dtype=np.int64)
    cost = np.zeros(size)
    seq_cost = np.zeros(size)
    capacity = min(s.max_branch_use, batch.pool_size)
    n_init = min(s.n_init, batch.pool_size)
    if n_init == 0:
        return BatchOutcome(answer, cost, seq_cost)

    st = _State(batch, capacity, n_init)
    table = confidence_table()

    def recount(changed: Any) -> None:
        """Recompute the pool's winner and confidence of the rows whose pool changed."""
        r = np.flatnonzero(changed)
        if r.size:
            winner, top1, top2 = plurality(
                st.latest[r], st.finished[r], st.final_vocab[r], st.done_key[r]
            )
            st.winner[r] = winner
            st.conf[r] = table[top1, top2]

    def settle(stop: np.ndarray, result: np.ndarray) -> None:
        r = np.flatnonzero(stop)
        spent = batch.cost_after(st.pool[r], st.reads[r], st.freq[r][:, None])
        answer[st.row[r]] = result[r]
        cost[st.row[r]] = spent.sum(axis=1)
        seq_cost[st.row[r]] = spent.max(axis=1)
        st.running[r] = False

    def final_answer(stop: np.ndarray) -> np.ndarray:
        """Answer of rows leaving the loop: the pool winner, else the latest answers' majority."""
        result: np.ndarray = st.winner.copy()
        r = np.flatnonzero(stop & (result == NO_ANSWER))
        if r.size:
            counted = (st.cols < st.n_open[r, None]) & ~st.abandoned[r]
            result[r] = plurality(st.latest[r], counted, st.vocab[r])[0]
        return result

    recount(st.finished.any(axis=1))
    a = s.ema_alpha
    for rnd in range(MAX_ROUNDS):
        st.compact()
        if not st.running.any():
            break
        warm = rnd >= s.warm_up
        # 1. smoothed pool confidence
        winner = st.winner
        has_winner = winner != NO_ANSWER
        st.ema = (1.0 - a) * st.ema + a * st.conf
        st.history = np.concatenate([st.history, st.ema[:, None]], axis=1)[:, -s.T_ema :]

        # 2. disagreement streaks and abandonment
        if warm and has_winner.any():
            st.abandoned |= prune_disagreeing(st, winner, s.abandon_patience)

        # 3. depth pass: aligned branches read burst_aligned probes, others one
        depth_pass(st, batch, burst_sizes(st, winner, warm, s.burst_aligned, 1), rnd, recount)

        # 4. re-smooth with the round's evidence, replacing this round's entry
        winner = st.winner
        st.ema = (1.0 - a) * st.ema + a * st.conf
        st.history[:, -1] = st.ema
        delta = st.history[:, -1] - st.history[:, 0] if st.history.shape[1] >= 2 else 0 * st.ema

        # 5. stop gate
        if warm:
            gate = (
                st.running
                & (st.finished.sum(axis=1) >= s.min_complete)
                & (st.ema >= s.conf_thresh)
                & (delta >= -s.delta_slack)
            )
            if gate.any():
                settle(gate, winner)
        # 6. episodes with nothing left to read leave the loop
        exhausted = st.running & ~st.live.any(axis=1)
        if exhausted.any():
            settle(exhausted, final_answer(exhausted))
        # 7. widen while confidence is not rising
        if rnd >= max(1, s.warm_up // 2):
            widen = st.running & (delta <= s.trend_thresh) & (st.ema < s.conf_thresh)
            for j in range(s.widen_burst):
                r = np.flatnonzero(widen & (st.n_open < capacity))
                if not r.size:
                    break
                c = st.n_open[r]
                st.reads[r, c] = 1
                st.latest[r, c] = batch.answer_after(st.pool[r, c], np.ones(r.size, dtype=np.int64))
                done_now = st.n_probes[r, c] < 1
                st.finished[r, c] = done_now
                st.done_key[r, c] = (rnd + 1) * ROUND_SPAN + WIDEN_OFFSET + j
                st.n_open[r] += 1
                if done_now.any():
                    recount(np.isin(np.arange(st.row.size), r[done_now]))
    still = st.running
    if still.any():
        settle(still, final_answer(still))
    return BatchOutcome(answer, cost, seq_cost)
