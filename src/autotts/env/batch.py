"""Many episodes of one replay set as arrays, for vectorised controllers.

A vectorised controller advances every episode of a batch in lock-step with
NumPy operations instead of one Python call per read. It sees the same
information an episode-at-a-time controller sees, only as arrays:

* ``branches[e, j]``: the global id of the ``j``-th branch episode ``e`` may open;
* :meth:`EpisodeBatch.answer_after` gives what the ``reads``-th read of a branch
  returns (its probe answers, then its final answer);
* :meth:`EpisodeBatch.cost_after` gives what those reads cost, by exactly the
  charging rule of :class:`~autotts.env.episode.Episode`.

Answer ids are per question; two episodes' ids are never compared. ``vocab[e]``
bounds the ids episode ``e`` can meet and ``final_vocab[e]`` the ids of final
answers (they come first, see :class:`~autotts.data.records.ReplayQuestion`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from autotts.data.records import ReplaySet
from autotts.env.charging import slot_charges

__all__ = ["BatchOutcome", "EpisodeBatch", "merge_batches"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class BatchOutcome:
    """Per episode: the answer id (``NO_ANSWER`` for none), tokens charged, longest branch."""

    answer: IntArray
    cost: FloatArray
    sequential_cost: FloatArray


@dataclass(frozen=True, eq=False)
class EpisodeBatch:
    """Episodes over the questions of one :class:`ReplaySet`.

    ``question[e]`` is episode ``e``'s question and ``branches[e]`` its pool in
    opening order (global branch ids).
    """

    question: IntArray
    branches: IntArray
    steps: IntArray
    n_probes: IntArray
    final: IntArray
    tokens: IntArray
    probe_freq: IntArray
    vocab: IntArray
    final_vocab: IntArray

    @classmethod
    def build(cls, replay: ReplaySet, question: IntArray, orders: IntArray) -> EpisodeBatch:
        """Episodes ``e`` over ``replay.questions[question[e]]`` with branch order ``orders[e]``."""
        qs = replay.questions
        offsets = np.cumsum([0] + [q.n_branches for q in qs])[:-1]
        width = max(q.steps.shape[1] for q in qs)
        steps = np.concatenate(
            [np.pad(q.steps, ((0, 0), (0, width - q.steps.shape[1])), mode="edge") for q in qs]
        )
        question = np.asarray(question, dtype=np.int64)
        return cls(
            question=question,
            branches=np.asarray(orders, dtype=np.int64) + offsets[question][:, None],
            steps=steps,
            n_probes=np.concatenate([q.n_probes for q in qs]),
            final=np.concatenate([q.final for q in qs]),
            tokens=np.concatenate([q.tokens for q in qs]),
            probe_freq=np.asarray([q.probe_freq for q in qs], dtype=np.int64)[question],
            vocab=np.asarray([len(q.answers) for q in qs], dtype=np.int64)[question],
            final_vocab=np.asarray([q.n_finals for q in qs], dtype=np.int64)[question],
        )

    @classmethod
    def replicated(
        cls, replay: ReplaySet, questions: Sequence[int], orders: IntArray
    ) -> tuple[EpisodeBatch, IntArray]:
        """Episodes of every replicate of ``questions`` (all with one pool size) and each
        episode's question: ``orders[r, i]`` is replicate ``r``'s branch order for
        ``questions[i]``, its episode row ``r * len(questions) + i`` (replicate-major, as the
        results' replicates × questions tables are filled from them)."""
        question_of = np.broadcast_to(np.asarray(questions), orders.shape[:2]).reshape(-1)
        batch = cls.build(replay, question_of, orders.reshape(-1, orders.shape[2]))
        return batch, question_of

    @property
    def size(self) -> int:
        return int(self.branches.shape[0])

    @property
    def pool_size(self) -> int:
        return int(self.branches.shape[1])

    def answer_after(self, branch: IntArray, reads: IntArray) -> IntArray:
        """What the ``reads``-th read (1-based) of each global ``branch`` returns."""
        width = self.steps.shape[1]
        # one flat take is several times faster than 2-D fancy indexing here
        flat: IntArray = self.steps.reshape(-1)
        answers: IntArray = flat.take(branch * width + np.minimum(reads - 1, width - 1))
        return answers

    def cost_after(self, branch: IntArray, reads: IntArray, probe_freq: IntArray) -> IntArray:
        """Tokens charged for ``reads`` probe-by-probe reads of each ``branch`` (0 if unopened)."""
        return slot_charges(reads, self.n_probes[branch], self.tokens[branch], probe_freq)


def merge_batches(batches: Sequence[EpisodeBatch]) -> EpisodeBatch:
    """One batch holding the episodes of several (answer ids stay per question)."""
    if len(batches) == 1:
        return batches[0]
    if len({b.pool_size for b in batches}) != 1:
        raise ValueError("the search files differ in branches per question")
    width = max(b.steps.shape[1] for b in batches)
    offsets = np.cumsum([0] + [b.steps.shape[0] for b in batches])
    return EpisodeBatch(
        question=np.concatenate([b.question for b in batches]),
        branches=np.concatenate([b.branches + off for b, off in zip(batches, offsets)]),
        steps=np.concatenate(
            [np.pad(b.steps, ((0, 0), (0, width - b.steps.shape[1])), mode="edge") for b in batches]
        ),
        n_probes=np.concatenate([b.n_probes for b in batches]),
        final=np.concatenate([b.final for b in batches]),
        tokens=np.concatenate([b.tokens for b in batches]),
        probe_freq=np.concatenate([b.probe_freq for b in batches]),
        vocab=np.concatenate([b.vocab for b in batches]),
        final_vocab=np.concatenate([b.final_vocab for b in batches]),
    )
