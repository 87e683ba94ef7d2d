"""Round steps shared by the vectorised CMC kernel and the composable family's kernel.

Both replay many episodes at once as rows of per-branch arrays and advance them in
rounds. Two steps are the same in both, and live here so that the composed CMC and
the built-in CMC cannot drift apart: pruning branches that keep disagreeing with the
pool's winner, and the depth pass that reads a burst of probes on every live branch.

``st`` is a kernel's working state: per row (episode) and column (opened slot)
integer arrays ``reads``, ``probes``, ``latest``, ``n_probes``, ``pool``,
``disagree``, ``done_key``, a boolean ``finished``, the column indices ``cols``
and the property ``live`` (branches still read).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from autotts.controllers.vectorised.tally import rank_within_rows
from autotts.data.records import NO_ANSWER
from autotts.env.batch import EpisodeBatch

__all__ = ["ROUND_SPAN", "WIDEN_OFFSET", "burst_sizes", "depth_pass", "prune_disagreeing"]

ROUND_SPAN = 256  # completion keys: (round + 1) * span + position within the round
WIDEN_OFFSET = 128  # branches opened by widening complete after the depth pass


def prune_disagreeing(st: Any, winner: np.ndarray, patience: int) -> np.ndarray:
    """Count each live branch's streak of disagreeing with its row's ``winner`` (rows
    without one are not judged) and return the branches to drop: streaks of at least
    ``patience``, keeping two live branches per row (longest streaks go first; ties:
    the branch opened first)."""
    has_winner = winner != NO_ANSWER
    judged = st.live & has_winner[:, None]
    agree = st.latest == winner[:, None]
    st.disagree = np.where(judged, np.where(agree, 0, st.disagree + 1), st.disagree)
    stale: np.ndarray = judged & (st.disagree >= patience)
    if stale.any():
        allowed = np.maximum(0, judged.sum(axis=1) - 2)
        over = np.flatnonzero(stale.sum(axis=1) > allowed)
        if over.size:
            key = np.where(stale[over], -st.disagree[over] * 1024 + st.cols, 1 << 40)
            stale[over] &= rank_within_rows(key) < allowed[over, None]
    return stale


def burst_sizes(
    st: Any, winner: np.ndarray, warm: bool, aligned_burst: int, other_burst: int
) -> np.ndarray:
    """Probes to read per branch this round: ``aligned_burst`` on branches whose latest
    answer is their row's winner once warm, ``other_burst`` elsewhere."""
    if not warm:
        return np.full_like(st.reads, other_burst)
    aligned = (st.latest == winner[:, None]) & (winner != NO_ANSWER)[:, None]
    return np.where(aligned, aligned_burst, other_burst)


def depth_pass(
    st: Any,
    batch: EpisodeBatch,
    burst: np.ndarray,
    rnd: int,
    recount: Callable[[np.ndarray], None],
) -> None:
    """Read up to ``burst`` more probes of every live branch (never past its end); a
    branch that reaches its final answer is finished, keyed after earlier rounds in
    the order the branches were visited (most probed first; ties: opened first), and
    the rows whose completed pool changed are recounted."""
    live = st.live
    step = np.where(live, np.minimum(burst, st.n_probes + 1 - st.reads), 0)
    probes_before = st.probes
    st.reads = st.reads + step
    st.probes = st.probes + step
    moved = np.flatnonzero(step)
    st.latest.reshape(-1)[moved] = batch.answer_after(
        st.pool.reshape(-1)[moved], st.reads.reshape(-1)[moved]
    )
    newly = live & (st.reads > st.n_probes)
    changed = newly.any(axis=1)
    if changed.any():
        st.finished |= newly
        position = np.zeros_like(st.reads)
        several = np.flatnonzero(newly.sum(axis=1) > 1)
        if several.size:
            key = np.where(live[several], -probes_before[several] * 1024 + st.cols, 1 << 40)
            position[several] = rank_within_rows(key)
        st.done_key = np.where(newly, (rnd + 1) * ROUND_SPAN + position, st.done_key)
        recount(changed)
