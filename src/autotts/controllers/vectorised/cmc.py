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

from typing import TYPE_CHECKING

import numpy as np

from autotts.controllers.vectorised.tally import plurality
from autotts.controllers.voting import confidence_table
from autotts.data.records import NO_ANSWER
from autotts.env.batch import BatchOutcome, EpisodeBatch

if TYPE_CHECKING:
    from autotts.controllers.cmc import CMCSettings

__all__ = ["run_cmc"]

MAX_ROUNDS = 500
_ROUND_SPAN = 256  # completion keys: (round + 1) * span + position within the round
_WIDEN_OFFSET = 128  # branches opened by widening complete after the depth pass


class _State:
    """Per-episode arrays of the working set; rows leave when their episode stops."""

    def __init__(self, batch: EpisodeBatch, capacity: int, n_init: int) -> None:
        size = batch.size
        self.row = np.arange(size)
        self.pool = batch.branches[:, :capacity]
        self.n_probes = batch.n_probes[self.pool]
        self.freq = batch.probe_freq
        self.cols = np.arange(capacity)[None, :]
        opened = self.cols < n_init
        self.n_open = np.full(size, n_init, dtype=np.int64)
        self.reads = opened.astype(np.int64)
        self.latest = np.where(opened, batch.answer_after(self.pool, np.maximum(self.reads, 1)), 0)
        self.finished = opened & (self.reads > self.n_probes)
        self.abandoned = np.zeros((size, capacity), dtype=bool)
        self.probes = np.zeros((size, capacity), dtype=np.int64)
        self.disagree = np.zeros((size, capacity), dtype=np.int64)
        self.done_key = np.where(self.finished, self.cols, 0)
        self.ema = np.zeros(size)
        self.history: np.ndarray = np.zeros((size, 0))

    _PER_ROW = (
        "row", "pool", "n_probes", "freq", "n_open", "reads", "latest", "finished",
        "abandoned", "probes", "disagree", "done_key", "ema", "history",
    )  # fmt: skip

    def keep(self, mask: np.ndarray) -> None:
        for name in self._PER_ROW:
            setattr(self, name, getattr(self, name)[mask])

    @property
    def opened(self) -> np.ndarray:
        return self.cols < self.n_open[:, None]

    @property
    def live(self) -> np.ndarray:
        return self.opened & ~self.finished & ~self.abandoned


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
    n_answers = batch.n_answers

    def pool_stats() -> tuple[np.ndarray, np.ndarray]:
        winner, top1, top2 = plurality(st.latest, st.finished, n_answers, st.done_key)
        return winner, table[top1, top2]

    def settle(stop: np.ndarray, result: np.ndarray) -> None:
        spent = batch.cost_after(st.pool[stop], st.reads[stop], st.freq[stop][:, None])
        answer[st.row[stop]] = result[stop]
        cost[st.row[stop]] = spent.sum(axis=1)
        seq_cost[st.row[stop]] = spent.max(axis=1)
        st.keep(~stop)

    def final_answer() -> np.ndarray:
        winner = pool_stats()[0]
        fallback = plurality(st.latest, st.opened & ~st.abandoned, n_answers)[0]
        return np.where(winner != NO_ANSWER, winner, fallback)

    a = s.ema_alpha
    for rnd in range(MAX_ROUNDS):
        if st.row.size == 0:
            break
        warm = rnd >= s.warm_up
        # 1. smoothed pool confidence
        winner, conf = pool_stats()
        st.ema = (1.0 - a) * st.ema + a * conf
        st.history = np.concatenate([st.history, st.ema[:, None]], axis=1)[:, -s.T_ema :]

        # 2. disagreement streaks and abandonment
        has_winner = winner != NO_ANSWER
        if warm and has_winner.any():
            live = st.live & has_winner[:, None]
            st.disagree = np.where(
                live, np.where(st.latest != winner[:, None], st.disagree + 1, 0), st.disagree
            )
            stale = live & (st.disagree >= s.abandon_patience)
            if stale.any():
                allowed = np.maximum(0, live.sum(axis=1) - 2)
                over = stale.sum(axis=1) > allowed
                if over.any():
                    # keep only the `allowed` longest streaks (ties: opened first)
                    score = np.where(stale, st.disagree * 1024 - st.cols, -1)
                    order = np.argsort(-score, axis=1, kind="stable")
                    rank = np.empty_like(order)
                    np.put_along_axis(rank, order, st.cols.repeat(order.shape[0], 0), axis=1)
                    stale &= ~over[:, None] | (rank < allowed[:, None])
                st.abandoned |= stale

        # 3. depth pass: aligned branches read burst_aligned probes, others one
        live = st.live
        aligned = warm & (st.latest == winner[:, None]) & has_winner[:, None]
        burst = np.where(aligned, s.burst_aligned, 1)
        step = np.where(live, np.minimum(burst, st.n_probes + 1 - st.reads), 0)
        probes_before = st.probes
        st.reads = st.reads + step
        st.probes = st.probes + step
        st.latest = np.where(step > 0, batch.answer_after(st.pool, np.maximum(st.reads, 1)), st.latest)
        newly = live & (st.reads > st.n_probes)
        st.finished |= newly
        if newly.any():
            base = (rnd + 1) * _ROUND_SPAN
            position = np.zeros_like(st.reads)
            several = newly.sum(axis=1) > 1
            if several.any():
                # branches were visited most-probed first (ties: opened first)
                sub = np.where(live[several], -probes_before[several] * 1024 + st.cols, 1 << 40)
                order = np.argsort(sub, axis=1, kind="stable")
                rank = np.empty_like(order)
                np.put_along_axis(rank, order, st.cols.repeat(order.shape[0], 0), axis=1)
                position[several] = rank
            st.done_key = np.where(newly, base + position, st.done_key)

        # 4. re-smooth with the round's evidence, replacing this round's entry
        winner, conf = pool_stats()
        st.ema = (1.0 - a) * st.ema + a * conf
        st.history[:, -1] = st.ema
        delta = st.history[:, -1] - st.history[:, 0] if st.history.shape[1] >= 2 else 0.0 * st.ema

        # 5. stop gate
        if warm:
            gate = (
                (st.finished.sum(axis=1) >= s.min_complete)
                & (st.ema >= s.conf_thresh)
                & (delta >= -s.delta_slack)
            )
            if gate.any():
                settle(gate, winner)
                delta = delta[~gate]
        # 6. episodes with nothing left to read leave the loop
        exhausted = ~st.live.any(axis=1)
        if exhausted.any():
            settle(exhausted, final_answer())
            delta = delta[~exhausted]
        if st.row.size == 0:
            break
        # 7. widen while confidence is not rising
        if rnd >= max(1, s.warm_up // 2):
            widen = (delta <= s.trend_thresh) & (st.ema < s.conf_thresh)
            for j in range(s.widen_burst):
                grow = widen & (st.n_open < capacity)
                if not grow.any():
                    break
                r = np.nonzero(grow)[0]
                c = st.n_open[r]
                st.reads[r, c] = 1
                st.latest[r, c] = batch.answer_after(st.pool[r, c], np.ones(r.size, dtype=np.int64))
                done_now = st.n_probes[r, c] < 1
                st.finished[r, c] = done_now
                st.done_key[r, c] = np.where(
                    done_now, (rnd + 1) * _ROUND_SPAN + _WIDEN_OFFSET + j, 0
                )
                st.n_open[r] += 1
    if st.row.size:
        settle(np.ones(st.row.size, dtype=bool), final_answer())
    return BatchOutcome(answer, cost, seq_cost)
