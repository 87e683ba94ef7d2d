"""The composed controller over a whole batch of episodes (same parts, same order).

Every episode runs the same round at the same time and each branch is a few
integers (where its reads have got to, probe_more calls, disagreement streak, flags).
Ties in the completed pool go to the branch that finished first, so each finished
branch carries a completion key that sorts like the episode-at-a-time append order
(initial branches by opening order, then per round the depth pass, most-read
first, then the widened ones). The test suite checks that this returns exactly
what :meth:`~autotts.controllers.composable.plain.PartsController.solve` returns.

It is also the fast path of every built-in: SC, ASC, ESC, Parallel-Probe and CMC
run it on their settings as parts (``sc_knobs``, ``asc_knobs``, ``esc_knobs``,
``pp_knobs``, ``cmc_knobs`` beside each controller). So it keeps up to date only
what a knob set reads (:class:`Needs`: SC's pool is counted once, when it answers;
Parallel-Probe's never, its leader only in rows whose latest answers moved; ASC's
confidence vote by vote), full reads are a gather of final answers, and the hot
steps (pruning, the depth pass) work on the flat indices of the live branches
rather than on every slot of every row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from autotts.controllers.composable.kernel_state import KernelState, Needs, flat
from autotts.controllers.composable.plain import MAX_LENGTH_UNITS, Knobs, length_weights
from autotts.controllers.tally import plurality
from autotts.controllers.voting import confidence_table
from autotts.data.records import NO_ANSWER
from autotts.env.batch import BatchOutcome, EpisodeBatch

__all__ = ["run_parts"]

_RANK_SPAN = float(1 << 20)
ROUND_SPAN = 256  # completion keys: (round + 1) * span + position within the round
WIDEN_OFFSET = 128  # branches opened by widening complete after the depth pass


def _group_positions(rows: np.ndarray, order: np.ndarray, n_rows: int) -> np.ndarray:
    """Position of each entry within its row once sorted by ``order`` (a permutation
    that groups entries by row, e.g. from ``np.lexsort((..., rows))``)."""
    counts = np.bincount(rows, minlength=n_rows)
    starts = np.cumsum(counts) - counts
    position = np.empty_like(order)
    position[order] = np.arange(order.size) - starts[rows[order]]
    return position


def _prune_pool(st: KernelState, winner: np.ndarray, patience: int) -> None:
    """Count each live branch's streak of disagreeing with its row's ``winner`` (rows
    without one are not judged) and drop streaks of at least ``patience``, keeping two
    live branches per row (longest streaks go first; ties: the branch opened first)."""
    width = st.cols.size
    idx = np.flatnonzero(st.live)
    rows = idx // width
    judged = winner[rows] != NO_ANSWER
    idx, rows = idx[judged], rows[judged]
    if not idx.size:
        return
    streak = np.where(flat(st.latest)[idx] == winner[rows], 0, flat(st.disagree)[idx] + 1)
    flat(st.disagree)[idx] = streak
    stale = streak >= patience
    if not stale.any():
        return
    n_rows = st.row.size
    allowed = np.maximum(0, np.bincount(rows, minlength=n_rows) - 2)
    s_idx, s_rows, s_streak = idx[stale], rows[stale], streak[stale]
    over = np.bincount(s_rows, minlength=n_rows)[s_rows] > allowed[s_rows]
    if over.any():
        # entries are in (row, column) order; a stable sort by (row, -streak) keeps it
        order = np.lexsort((-s_streak, s_rows))
        keep = _group_positions(s_rows, order, n_rows) < allowed[s_rows]
        s_idx = s_idx[keep]
    st.drop(s_idx)


def _prune_latest(st: KernelState, patience: int) -> bool:
    """Count each live branch's streak of disagreeing with its row's ``leader`` (the
    majority of the latest answers; rows with fewer than two branches not dropped are not
    judged) and drop streaks of at least ``patience``; whether any was dropped."""
    width = st.cols.size
    idx = np.flatnonzero(st.live)
    rows = idx // width
    judged = (st.n_open - st.n_dropped)[rows] > 1
    if not judged.all():
        idx, rows = idx[judged], rows[judged]
    off = flat(st.latest)[idx] != st.leader[rows]
    streak = np.where(off, flat(st.disagree)[idx] + 1, 0)
    flat(st.disagree)[idx] = streak
    stale = streak >= patience
    if not stale.any():
        return False
    st.drop(idx[stale])
    return True


def _depth_pass(
    st: KernelState,
    winner: np.ndarray | None,
    bursts: tuple[int, int],
    rnd: int,
    keyed: bool,
    recount: Callable[[np.ndarray], None],
) -> None:
    """Read up to a burst more probes of every live branch (never past its end):
    ``bursts[0]`` on branches whose latest answer is their row's ``winner`` (``None``:
    before warm-up, or when both bursts are equal), ``bursts[1]`` elsewhere. A branch that
    reaches its final answer is finished and handed to ``recount``; when ``keyed`` (the
    completed pool's ties are read) it is keyed after earlier rounds in the order the
    branches were visited (most probed first; ties: opened first). Rows where a latest
    answer changed are marked ``moved`` (when the leader is kept)."""
    aligned_burst, other_burst = bursts
    width = st.cols.size
    idx = np.flatnonzero(st.live)
    before = flat(st.latest)[idx] if winner is not None or st.tracks_moves else None
    if winner is not None:
        mine = winner[idx // width]
        aligned = (before == mine) & (mine != NO_ANSWER)
        burst: Any = np.where(aligned, aligned_burst, other_burst)
    else:
        burst = other_burst
    at = flat(st.at)[idx]
    last = flat(st.last)[idx]
    step = np.minimum(burst, last - at)
    if min(aligned_burst, other_burst) < 1:
        moved = step > 0
        idx, at, last, step = idx[moved], at[moved], last[moved], step[moved]
        before = None if before is None else before[moved]
    at = at + step
    flat(st.at)[idx] = at
    latest = st.steps.take(at)
    flat(st.latest)[idx] = latest
    if st.tracks_moves:
        st.moved[idx[latest != before] // width] = True
    newly = at == last
    if keyed:
        probes_before = flat(st.probes)[idx]
        flat(st.probes)[idx] = probes_before + step
    if not newly.any():
        return
    done = idx[newly]
    flat(st.finished)[done] = True
    flat(st.live)[done] = False
    if keyed:
        # keys within the round: their order is the visiting order (ranked among the
        # branches finishing this round only, which sorts alike)
        done_rows = done // width
        order = np.lexsort((-probes_before[newly], done_rows))
        position = _group_positions(done_rows, order, st.row.size)
        flat(st.done_key)[done] = (rnd + 1) * ROUND_SPAN + position
    recount(done)


def _widen(
    st: KernelState,
    batch: EpisodeBatch,
    r: np.ndarray,
    burst: int,
    rnd: int,
    full: bool,
    recount: Callable[[np.ndarray], None],
) -> None:
    """Open up to ``burst`` more branches in each of the rows ``r`` (never beyond the
    capacity), all at once: the ``j``-th opened in a row is keyed after this round's depth
    pass as ``j``, as if they were opened one by one. With ``full`` depth each is read to
    its end (its final answer); the branches finished so are handed to ``recount``."""
    capacity = st.cols.size
    take = np.minimum(burst, capacity - st.n_open[r])
    rows = np.repeat(r, take)
    if not rows.size:
        return
    ends = np.cumsum(take)
    j = np.arange(rows.size) - np.repeat(ends - take, take)  # position within its row
    c = st.n_open[rows] + j
    st.n_open[r] += take
    st.moved[rows] = True
    if full:
        st.latest[rows, c] = batch.final[st.pool[rows, c]]
        st.finished[rows, c] = True
        recount(rows * capacity + c)
        return
    first = st.pool[rows, c] * st.steps_width
    st.at[rows, c] = first
    st.latest[rows, c] = st.steps.take(first)
    done_now = st.last[rows, c] == first
    st.finished[rows, c] = done_now
    st.live[rows, c] = ~done_now
    if st.done_key.size:  # the pool's ties are read (Needs.keyed)
        st.done_key[rows, c] = (rnd + 1) * ROUND_SPAN + WIDEN_OFFSET + j
    if done_now.any():
        recount(rows[done_now] * capacity + c[done_now])


def _add_votes(st: KernelState, rows: np.ndarray, answers: np.ndarray) -> None:
    """One vote for ``answers[i]`` in row ``rows[i]`` each, keeping ``top1``/``top2`` (the
    two highest counts) and ``lead`` (an answer holding ``top1``) up to date. A vote lifts
    one count by one, so it extends the lead, overtakes an answer it was tied with (whose
    count becomes the runner-up) or may raise the runner-up. ``rows`` is sorted; a row's
    votes are added one layer at a time (its first new vote in every row, then its
    second, ...), a single layer when no row repeats (one full read per round: ASC)."""
    first = np.r_[True, rows[1:] != rows[:-1]]
    if first.all():
        layers = [(rows, answers)]
    else:
        starts = np.flatnonzero(first)
        layer = np.arange(rows.size) - np.repeat(starts, np.diff(np.r_[starts, rows.size]))
        layers = [(rows[layer == d], answers[layer == d]) for d in range(int(layer.max()) + 1)]
    for r, a in layers:
        st.votes[r, a] += 1
        count = st.votes[r, a]
        top1, top2 = st.top1[r], st.top2[r]
        extends = a == st.lead[r]
        overtakes = ~extends & (count > top1)
        st.top2[r] = np.where(overtakes, top1, np.where(extends, top2, np.maximum(top2, count)))
        st.top1[r] = np.where(extends | overtakes, count, top1)
        st.lead[r] = np.where(overtakes, a, st.lead[r])


def _weighted_top2(
    votes: np.ndarray, starts: np.ndarray, vocab: np.ndarray, done: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the two highest length-weighted tallies rescaled to the finished count.

    ``votes`` holds every row's tallies back to back (row ``i`` from ``starts[i]``,
    ``vocab[i]`` answers); ``round(n·w/W)`` in integers, as the plain controller does.
    """
    width = int(vocab.max()) if vocab.size else 0
    cols = np.arange(max(width, 2))[None, :]
    index = np.minimum(starts[:, None] + cols, max(votes.size - 1, 0))
    tallies = np.where(cols < vocab[:, None], votes[index] if votes.size else 0, 0)
    ordered = np.sort(tallies, axis=1)
    w1, w2 = ordered[:, -1], ordered[:, -2]
    total = tallies.sum(axis=1)
    n = done.sum(axis=1).astype(np.int64)
    safe = np.maximum(total, 1)
    top1 = np.where(total > 0, (2 * n * w1 + safe) // (2 * safe), 0)
    top2 = np.where(total > 0, (2 * n * w2 + safe) // (2 * safe), 0)
    return top1, top2


def run_parts(batch: EpisodeBatch, k: Knobs) -> BatchOutcome:
    """Replay every episode of ``batch`` with the composed controller of settings ``k``."""
    size = batch.size
    answer = np.full(size, NO_ANSWER, dtype=np.int64)
    cost = np.zeros(size)
    seq_cost = np.zeros(size)
    capacity = min(k.max_branches, batch.pool_size)
    n_init = min(k.n_init, capacity)
    if n_init <= 0:
        return BatchOutcome(answer, cost, seq_cost)
    full = k.depth == "full"
    needs = Needs.of(k)
    st = KernelState(batch, capacity, n_init, k, needs)
    table = confidence_table()
    weighted = k.vote == "short" or k.confidence == "weighted"
    weights = np.asarray(length_weights(k.short_power) if weighted else [], dtype=np.float64)

    def spent(r: np.ndarray) -> np.ndarray:
        if full:
            return np.where(st.opened(r), batch.tokens[st.pool[r]], 0)
        pool = st.pool[r]
        reads = st.at[r] - pool * st.steps_width + 1
        return batch.cost_after(pool, reads, st.freq[r][:, None])

    def count_pool(r: np.ndarray) -> None:
        """Winner and confidence of the completed pool of rows ``r``."""
        latest, done = st.latest[r], st.finished[r]
        # full reads complete in opening order: the columns
        key = np.broadcast_to(st.cols, done.shape) if full else st.done_key[r]
        winner, top1, top2 = plurality(latest, done, st.final_vocab[r], None if full else key)
        if weighted:
            units = np.minimum(MAX_LENGTH_UNITS, spent(r) // st.freq[r][:, None])
            vocab = st.final_vocab[r]
            ends = np.cumsum(vocab)
            slots = np.where(done, (ends - vocab)[:, None] + latest, 0)
            votes = np.bincount(slots[done], weights=weights[units][done], minlength=int(ends[-1]))
            if k.vote == "short":
                score = np.where(done, votes[slots] * _RANK_SPAN - key, -1.0)
                pick = latest[np.arange(r.size), np.argmax(score, axis=1)]
                winner = np.where(top1 > 0, pick, NO_ANSWER)
            if k.confidence == "weighted":
                top1, top2 = _weighted_top2(votes.astype(np.int64), ends - vocab, vocab, done)
        st.winner[r] = winner
        st.conf[r] = table[top1, top2]

    width = st.cols.size

    def recount(done: np.ndarray) -> None:
        """Count the pools that the branches at flat indices ``done`` just finished in
        (as far as the rounds read them)."""
        if not done.size:
            return
        if needs.eager:
            changed = np.zeros(st.row.size, dtype=bool)
            changed[done // width] = True
            count_pool(np.flatnonzero(changed))
        elif needs.tallied:
            rows = done // width
            _add_votes(st, rows, flat(st.latest)[done])
            st.conf[rows] = table[st.top1[rows], st.top2[rows]]

    def latest_leader(rows: Any) -> None:
        """Count the latest answers' majority again in ``rows`` where it may have moved."""
        r = np.flatnonzero(rows & st.moved)
        if r.size:
            counted = ~st.dropped[r]
            if n_init < capacity:  # else every branch is open from the start
                counted &= st.opened(r)
            st.leader[r] = plurality(st.latest[r], counted, st.vocab[r], runner_up=False)[0]
            st.moved[r] = False

    def result(r: np.ndarray) -> np.ndarray:
        """The answer rows ``r`` would give now (``vote``)."""
        if k.vote == "latest":
            leader: np.ndarray = st.leader[r]
            return leader
        if not needs.eager:
            count_pool(r)
        out: np.ndarray = st.winner[r]
        none = np.flatnonzero(out == NO_ANSWER)
        if none.size:
            q = r[none]
            counted = st.opened(q) & ~st.dropped[q]
            out[none] = plurality(st.latest[q], counted, st.vocab[q], runner_up=False)[0]
        return out

    def settle(stop: np.ndarray, value: np.ndarray | None = None) -> None:
        """End the rows ``stop`` (a mask, or row indices) with ``value`` (default: the
        answer they would give now)."""
        r = np.flatnonzero(stop) if stop.dtype == bool else stop
        if not r.size:
            return
        charged = spent(r)
        answer[st.row[r]] = result(r) if value is None else value[r]
        cost[st.row[r]] = charged.sum(axis=1)
        seq_cost[st.row[r]] = charged.max(axis=1)
        st.running[r] = False
        st.live[r] = False

    recount(np.flatnonzero(st.finished))
    a = k.ema_alpha
    delta: Any = 0.0
    for rnd in range(k.max_rounds):
        st.compact()
        if not st.running.any():
            break
        warm = rnd >= k.warm_up
        # 1. smoothed pool confidence
        winner = st.winner
        if needs.smoothed:
            st.ema = (1.0 - a) * st.ema + a * st.conf
            st.history = np.concatenate([st.history, st.ema[:, None]], axis=1)[:, -k.T_ema :]

        # 2. drop branches that keep disagreeing with the pool's winner
        if k.prune == "pool" and warm and (winner != NO_ANSWER).any():
            _prune_pool(st, winner, k.patience)

        # 3. depth pass
        if not full:
            bursts = (k.burst_aligned, k.burst_other)
            mine = winner if warm and needs.aligned else None
            _depth_pass(st, mine, bursts, rnd, needs.keyed, recount)

        # 4. re-smooth with the round's evidence, replacing this round's entry
        if needs.smoothed:
            st.ema = (1.0 - a) * st.ema + a * st.conf
            st.history[:, -1] = st.ema
            delta = st.history[:, -1] - st.history[:, 0] if st.history.shape[1] >= 2 else 0 * st.ema

        # 5. drop branches that keep disagreeing with the latest answers' majority
        if needs.leader:
            latest_leader(st.running)
        if k.prune == "latest" and warm and _prune_latest(st, k.patience):
            latest_leader(st.running)  # the rows that lost a branch

        # 6. stop
        if k.stop == "momentum" and warm:
            gate = np.flatnonzero(
                st.running & (st.ema >= k.conf_thresh) & (delta >= -k.delta_slack)
            )
            settle(gate[st.finished[gate].sum(axis=1) >= k.min_complete])
        elif k.stop == "confidence" and warm:
            sure = np.flatnonzero(st.running & (st.conf > k.conf_thresh))
            settle(sure[st.finished[sure].sum(axis=1) >= 2])
        elif k.stop == "window":
            # the branches opened since the last check: columns wstart ... n_open - 1
            span = st.n_open - st.wstart
            reach = np.arange(max(1, int(span.max(initial=0))))
            rows = np.arange(st.row.size)[:, None]
            at = rows * width + np.minimum(st.wstart[:, None] + reach, width - 1)
            inside = reach < span[:, None]
            latest = flat(st.latest).take(at)
            done = flat(st.finished).take(at)
            check = st.running & (span > 0) & ~(inside & ~done).any(axis=1)
            first = latest[:, 0]
            unanimous = check & ~(inside & (latest != first[:, None])).any(axis=1)
            st.wstart = np.where(check & ~unanimous, st.n_open, st.wstart)
            settle(unanimous, first)
        elif k.stop == "stable":
            st.stable = np.where(st.leader == st.prev, st.stable + 1, 0)
            st.prev = st.leader.copy()
            settle(st.running & (st.stable >= k.T_stable))

        # 6b. give up on questions whose answers stay scattered
        if k.give_up == "futile" and warm:
            settle(st.running & (st.n_open >= k.futile_after) & (st.conf < k.futile_conf))

        # 7. nothing left to read
        exhausted = st.running & ~st.live.any(axis=1)
        if k.widen == "always":
            exhausted &= st.n_open >= capacity
        settle(exhausted)

        # 8. widen
        if k.widen == "always":
            widen = st.running
        elif k.widen == "trend" and rnd >= max(1, k.warm_up // 2):
            widen = st.running & (delta <= k.trend_thresh) & (st.ema < k.conf_thresh)
        else:
            continue
        _widen(st, batch, np.flatnonzero(widen), k.widen_burst, rnd, full, recount)
    still = st.running
    if still.any():
        if needs.leader:
            latest_leader(still)
        settle(still)
    return BatchOutcome(answer, cost, seq_cost)
