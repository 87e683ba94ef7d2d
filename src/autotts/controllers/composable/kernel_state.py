"""The composable kernel's state: what a knob set reads, and the per-episode arrays.

:class:`Needs` decides from the knobs which quantities the kernel keeps up to date;
:class:`KernelState` holds every row's branches as integer arrays, which the steps of
:mod:`autotts.controllers.composable.vectorised` read and write through flat indices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from autotts.controllers.composable.plain import Knobs
from autotts.data.records import NO_ANSWER
from autotts.env.batch import EpisodeBatch

__all__ = ["NO_LEADER", "PER_ROW", "KernelState", "Needs", "flat", "unread"]

NO_LEADER = -2  # "no previous leader": differs from every answer id and from NO_ANSWER

PER_ROW = (
    "row", "running", "pool", "last", "freq", "vocab", "final_vocab", "n_open",
    "at", "latest", "finished", "dropped", "probes", "disagree", "done_key", "ema",
    "history", "winner", "conf", "leader", "prev", "stable", "wstart", "live", "moved",
    "n_dropped", "votes", "top1", "top2", "lead",
)  # fmt: skip


@dataclass(frozen=True)
class Needs:
    """What a knob set reads, so what the kernel keeps up to date: work whose result
    nothing reads is skipped (the built-ins each use a few parts: SC reads nothing before
    its answer, Parallel-Probe never the completed pool)."""

    leader: bool  # the majority of the latest answers
    smoothed: bool  # the EMA of the pool's confidence and its trend
    aligned: bool  # which branches agree with the pool's winner (their burst differs)
    eager: bool  # the pool's winner (or weighted confidence): counted again as it grows
    tallied: bool  # only the pool's confidence from counts: kept up to date vote by vote
    keyed: bool  # the order branches finished in (the pool's ties)

    @classmethod
    def of(cls, k: Knobs) -> Needs:
        smoothed = k.stop == "momentum" or k.widen == "trend"
        aligned = k.depth != "full" and k.burst_aligned != k.burst_other
        winner_each_round = aligned or k.prune == "pool"
        conf_each_round = smoothed or k.stop == "confidence" or k.give_up == "futile"
        tallied = conf_each_round and not winner_each_round and k.confidence == "counts"
        eager = winner_each_round or (conf_each_round and not tallied)
        return cls(
            leader=k.prune == "latest" or k.stop == "stable" or k.vote == "latest",
            smoothed=smoothed,
            aligned=aligned,
            eager=eager,
            tallied=tallied,
            # without eager counts the pool is counted when a row stops, if its vote reads it
            keyed=eager or k.vote != "latest",
        )


class KernelState:
    """Per-episode arrays; stopped rows are dropped once a quarter of them stopped.

    ``live`` (opened, neither finished nor dropped, row running) is kept up to date by
    every step that changes one of those, rather than recomputed from them each time.
    So is ``moved``: the rows whose latest answers or set of counted branches changed
    since their ``leader`` was last counted (a leader that nothing changed is not
    counted again). Every per-branch array is C-contiguous, so ``a.reshape(-1)`` is a
    view and the steps read and write the live branches through flat indices.
    """

    def __init__(
        self, batch: EpisodeBatch, capacity: int, n_init: int, k: Knobs, needs: Needs
    ) -> None:
        keyed = needs.keyed
        self.tracks_moves = needs.leader
        size = batch.size
        self.row = np.arange(size)
        self.running = np.ones(size, dtype=bool)
        self.pool = np.ascontiguousarray(batch.branches[:, :capacity])
        self.freq = batch.probe_freq
        self.vocab = batch.vocab
        self.final_vocab = batch.final_vocab
        self.cols = np.arange(capacity)[None, :]
        opened = np.zeros((size, capacity), dtype=bool)  # C-contiguous, as all derived
        opened[:, :n_init] = True
        self.n_open = np.full(size, n_init, dtype=np.int64)
        self.dropped = np.zeros((size, capacity), dtype=bool)
        # Per-branch arrays the knobs never read are left empty (width 0).
        # A branch read probe by probe is where its reads have got to in ``batch.steps``
        # (flat): ``at`` indexes its latest answer (one before its first while unopened),
        # ``last`` its final answer, so a read is one step along and one take. A full read
        # finishes a branch when it opens, with its final answer: nothing counts its
        # reads, and the pool's completion order is the opening order (the columns).
        self.steps = batch.steps.reshape(-1)
        self.steps_width = batch.steps.shape[1]
        if k.depth == "full":
            self.at = self.last = self.probes = self.done_key = unread(size)
            self.latest = np.where(opened, batch.final[self.pool], 0)
            self.finished = opened
        else:
            first = self.pool * self.steps_width
            self.at = np.where(opened, first, first - 1)
            self.last = first + batch.n_probes[self.pool]
            self.latest = np.where(opened, self.steps.take(first), 0)
            self.finished = opened & (self.last == first)
            self.probes = np.zeros((size, capacity), dtype=np.int64) if keyed else unread(size)
            self.done_key = np.where(self.finished, self.cols, 0) if keyed else unread(size)
        pruning = k.prune != "never"
        self.disagree = np.zeros((size, capacity), dtype=np.int64) if pruning else unread(size)
        self.ema = np.zeros(size)
        self.history = np.zeros((size, 0))
        self.winner = np.full(size, NO_ANSWER, dtype=np.int64)
        self.conf = np.zeros(size)
        self.leader = np.full(size, NO_ANSWER, dtype=np.int64)
        self.prev = np.full(size, NO_LEADER, dtype=np.int64)
        self.stable = np.zeros(size, dtype=np.int64)
        self.wstart = np.zeros(size, dtype=np.int64)
        self.live = opened & ~self.finished
        self.moved = np.ones(size, dtype=bool)
        self.n_dropped = np.zeros(size, dtype=np.int64)
        # tallied: each row's vote count per final answer and the two highest counts,
        # with an answer holding the highest (see _add_votes)
        width = int(batch.final_vocab.max(initial=1)) if needs.tallied else 0
        self.votes = np.zeros((size, width), dtype=np.int64)
        self.top1 = np.zeros(size, dtype=np.int64)
        self.top2 = np.zeros(size, dtype=np.int64)
        self.lead = np.full(size, -1, dtype=np.int64)

    def compact(self) -> None:
        if self.running.sum() < 0.75 * self.running.size:
            keep = self.running
            for name in PER_ROW:
                setattr(self, name, getattr(self, name)[keep])

    def opened(self, r: Any = slice(None)) -> np.ndarray:
        """Which branches of rows ``r`` (default: every row) are open."""
        out: np.ndarray = self.cols < self.n_open[r, None]
        return out

    def drop(self, flat: np.ndarray) -> None:
        """Drop the branches at flat indices ``flat``."""
        self.dropped.reshape(-1)[flat] = True
        self.live.reshape(-1)[flat] = False
        rows = flat // self.cols.size
        self.moved[rows] = True
        self.n_dropped += np.bincount(rows, minlength=self.row.size)


def unread(size: int) -> np.ndarray:
    """A per-branch array that is never read: no branch at all."""
    return np.zeros((size, 0), dtype=np.int64)


def flat(a: np.ndarray) -> np.ndarray:
    """The flat view of a per-branch array (they are all C-contiguous)."""
    return a.reshape(-1)
