"""Many episodes of the Beta policy at once, on an :class:`~autotts.env.batch.EpisodeBatch`.

Every episode takes its ``t``-th decision at the same loop iteration, so a decision is
a handful of array operations over the episodes still running. Two modes:

* ``mean``: the mean policy played deterministically (running sums of the action
  probabilities), exactly what :class:`~autotts.discovery.policy.plain.PolicyController`
  does episode by episode (``tests/discovery/test_policy.py`` compares them);
* ``sample``: the stochastic policy; each decision draws ``p ~ Beta(a, b)`` and the
  action ``~ Bernoulli(p)``, and what was drawn is recorded for the gradient
  (:class:`Decisions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from autotts.controllers.tally import plurality
from autotts.controllers.voting import confidence_table
from autotts.data.records import NO_ANSWER
from autotts.discovery.policy.family import N_FEATURES, concentrations, mean_probability
from autotts.discovery.policy.plain import MAX_STEPS, MAX_WIDTH, TOKEN_SCALE
from autotts.env.batch import BatchOutcome, EpisodeBatch

__all__ = ["Decisions", "rollout"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass
class Decisions:
    """What a sampled rollout drew, per head: episode, features, Beta draw, action."""

    episode: list[list[IntArray]]
    phi: list[list[FloatArray]]
    p: list[list[FloatArray]]
    y: list[list[FloatArray]]

    @classmethod
    def empty(cls) -> Decisions:
        return cls([[], []], [[], []], [[], []], [[], []])

    def add(
        self, head: int, episode: IntArray, phi: FloatArray, p: FloatArray, y: npt.NDArray[Any]
    ) -> None:
        self.episode[head].append(episode)
        self.phi[head].append(phi)
        self.p[head].append(p)
        self.y[head].append(y.astype(np.float64))

    def stacked(self, head: int) -> tuple[IntArray, FloatArray, FloatArray, FloatArray]:
        if not self.episode[head]:
            z = np.zeros(0)
            return np.zeros(0, dtype=np.int64), np.zeros((0, N_FEATURES)), z, z
        return (
            np.concatenate(self.episode[head]),
            np.concatenate(self.phi[head]),
            np.concatenate(self.p[head]),
            np.concatenate(self.y[head]),
        )


def rollout(
    batch: EpisodeBatch,
    beta: FloatArray,
    theta: FloatArray,
    *,
    rng: np.random.Generator | None = None,
    decisions: Decisions | None = None,
    max_steps: int = MAX_STEPS,
) -> BatchOutcome:
    """Run every episode of ``batch`` (episode ``e`` at ``beta[e]``).

    Without ``rng`` the mean policy plays; with it, the sampled one (``decisions``
    records its draws).
    """
    size = batch.size
    cap = min(MAX_WIDTH, batch.pool_size)
    pool = np.ascontiguousarray(batch.branches[:, :cap])
    n_probes = batch.n_probes[pool]
    freq = batch.probe_freq[:, None]
    cols = np.arange(cap)[None, :]
    beta = np.asarray(beta, dtype=np.float64)
    table = confidence_table()

    n_open = np.ones(size, dtype=np.int64)
    reads = np.zeros((size, cap), dtype=np.int64)
    reads[:, 0] = 1
    latest = np.zeros((size, cap), dtype=np.int64)
    latest[:, 0] = batch.answer_after(pool[:, 0], reads[:, 0])
    finished = np.zeros((size, cap), dtype=bool)
    finished[:, 0] = n_probes[:, 0] < 1
    done_key = np.zeros((size, cap), dtype=np.int64)

    answer = np.full(size, NO_ANSWER, dtype=np.int64)
    cost = np.zeros(size)
    seq = np.zeros(size)
    running = np.arange(size)
    due_stop = np.full(size, 0.5)
    due_branch = np.full(size, 0.5)
    for step in range(max_steps + 1):
        if not running.size:
            break
        r = running
        # only the columns some running episode has opened (often a few of the 64)
        w = int(n_open[r].max())
        wcols = cols[:, :w]
        opened = wcols < n_open[r, None]
        fin = finished[r, :w]
        lat = latest[r, :w]
        winner, top1, top2 = plurality(lat, fin, batch.final_vocab[r], done_key[r, :w])
        leader, lead, _ = plurality(lat, opened, batch.vocab[r], runner_up=False)
        spent_by = batch.cost_after(pool[r, :w], reads[r, :w], freq[r])
        spent = spent_by.sum(axis=1)
        n = n_open[r]
        b = beta[r]
        conf = table[top1, top2]
        spent_f = spent / TOKEN_SCALE
        phi = np.stack(
            [np.ones(r.size), b, conf, lead / n, n / MAX_WIDTH, fin.sum(axis=1) / n,
             spent_f, b * conf, b * spent_f],
            axis=1,
        )  # fmt: skip
        result = np.where(top1 > 0, winner, leader)

        # 1. stop?
        if rng is None:
            due_stop[r] += mean_probability(theta[0], phi)
            stop = due_stop[r] >= 1.0
        else:
            ap, bp = concentrations(theta[0], phi)
            p = rng.beta(ap, bp)
            stop = rng.random(r.size) < p
            if decisions is not None:
                decisions.add(0, r, phi, p, stop)
        if step == max_steps:
            stop[:] = True
        # 2. branch or probe?
        go = ~stop
        if rng is None:
            # the plain controller adds only on decisions it goes on with
            g = np.flatnonzero(go)
            due_branch[r[g]] += mean_probability(theta[1], phi[g])
            want = np.zeros(r.size, dtype=bool)
            want[g] = due_branch[r[g]] >= 1.0
            due_branch[r[want]] -= 1.0
        else:
            g = np.flatnonzero(go)
            ap, bp = concentrations(theta[1], phi[g])
            p = rng.beta(ap, bp)
            pick = rng.random(g.size) < p
            want = np.zeros(r.size, dtype=bool)
            want[g] = pick
            if decisions is not None and g.size:
                decisions.add(1, r[g], phi[g], p, pick)
        can_open = n < cap
        live = opened & ~fin
        has_live = live.any(axis=1)
        do_open = go & can_open & (want | ~has_live)
        do_probe = go & ~do_open & has_live
        stop = stop | (go & ~do_open & ~do_probe)

        if stop.any():
            s = r[stop]
            answer[s] = result[stop]
            cost[s] = spent[stop]
            seq[s] = spent_by[stop].max(axis=1)
        key = (step + 1) * cap
        o = r[do_open]
        if o.size:
            c = n_open[o]
            reads[o, c] = 1
            latest[o, c] = batch.answer_after(pool[o, c], np.ones(o.size, dtype=np.int64))
            finished[o, c] = n_probes[o, c] < 1
            done_key[o, c] = key + c
            n_open[o] += 1
        pr = r[do_probe]
        if pr.size:
            lv = live[do_probe]
            new_reads = reads[pr, :w] + lv
            reads[pr, :w] = new_reads
            got = batch.answer_after(pool[pr, :w], np.maximum(new_reads, 1))
            latest[pr, :w] = np.where(lv, got, latest[pr, :w])
            now = lv & (new_reads > n_probes[pr, :w])
            finished[pr, :w] |= now
            done_key[pr, :w] = np.where(now, key + wcols, done_key[pr, :w])
        running = r[~stop]
    return BatchOutcome(answer, cost, seq)
