"""Episodes' accounts from their whole action logs at once, in NumPy.

The evaluator checks and charges every episode a sandboxed worker reports. Doing
that read by read (:class:`~autotts.env.episode.Episode`) or even slot by slot in
Python costs about as much as the worker's lean session spends running the
controller, so a parent process fell behind its worker. Here the logs of a whole
cell are one integer array (the action codes of :mod:`autotts.env.fast_session`:
``PROBE_NEW``, ``FULL_READ``, or a slot ``i >= 0`` for ``probe_more(i)``) cut into
episodes by their lengths, and the legality test, the reads per slot, the tokens
per slot and what was revealed are a few dozen array operations for all episodes.

The charging rule is :mod:`autotts.env.charging`'s (reference protocol: no probe
charge). Tests compare every account with the call-by-call replay.

Index names: ``e`` an episode, ``a`` an action, a *slot* an opened branch of one
episode (numbered across all episodes in the order they were opened).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
import numpy.typing as npt

from autotts.data.records import ReplayQuestion
from autotts.env.charging import slot_charges
from autotts.env.fast_session import FULL_READ, PROBE_NEW

__all__ = ["LogAccounts", "account_logs"]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: stands for "never": a read index no episode reaches
_NEVER = np.iinfo(np.int64).max


@dataclass(frozen=True)
class _QuestionTables:
    """Per-question arrays, built once per question and shared by all its episodes."""

    #: ``first[a, b]``: the read (1-based) of branch ``b`` that first returns answer ``a``
    first: IntArray
    index: dict[str, int]


_tables: weakref.WeakKeyDictionary[ReplayQuestion, _QuestionTables] = weakref.WeakKeyDictionary()


def _question_tables(question: ReplayQuestion) -> _QuestionTables:
    tables = _tables.get(question)
    if tables is None:
        n_answers, (n_branches, width) = len(question.answers), question.steps.shape
        first = np.full((n_answers, n_branches), _NEVER, dtype=np.int64)
        # Distinct reads of a branch: its probes, then its final answer (the row's padding
        # repeats that final answer, which is never a first sighting).
        for k in range(width - 1, -1, -1):  # later reads first: earlier ones overwrite
            live = np.flatnonzero(question.n_probes >= k)
            first[question.steps[live, k], live] = k + 1
        tables = _QuestionTables(first, {answer: a for a, answer in enumerate(question.answers)})
        _tables[question] = tables
    return tables


@dataclass(frozen=True)
class LogAccounts:
    """Per episode: whether its log is legal and, if so, what it charged and revealed.

    An illegal log (an unknown code, a read of a slot not yet opened, more openings
    than its order has) gets zeros; its rejection message comes from the call-by-call
    replay, which says which action is wrong.
    """

    legal: BoolArray
    cost: npt.NDArray[np.float64]
    sequential_cost: npt.NDArray[np.float64]
    opened: IntArray
    #: whether the episode's answer was returned by one of its reads (False for an
    #: answer that is not one of the question's)
    revealed: BoolArray


def account_logs(
    questions: Sequence[ReplayQuestion],
    episodes: Sequence[tuple[int, Sequence[int]]],
    codes: IntArray,
    lengths: IntArray,
    answers: Sequence[object],
    flat_orders: IntArray | None = None,
) -> LogAccounts:
    """The accounts of episodes ``(question index, order)`` whose logs, concatenated, are
    ``codes`` (``lengths[e]`` actions for episode ``e``); ``answers[e]`` is what each
    returned. ``flat_orders``, when the caller has it, is the episodes' orders laid end
    to end (quicker than reading them from ``episodes``)."""
    n = len(episodes)
    question = np.fromiter((q for q, _ in episodes), dtype=np.int64, count=n)
    pool = np.fromiter((len(order) for _, order in episodes), dtype=np.int64, count=n)
    episode_of_action = np.repeat(np.arange(n), lengths)
    openings = codes < 0  # the two opening codes are the only negative ones
    opened_through = np.cumsum(openings)  # openings so far, across all episodes
    opened_before = np.concatenate(([0], opened_through))[np.cumsum(lengths) - lengths]
    opened = np.bincount(episode_of_action[openings], minlength=n)

    # Legality: known codes, reads of slots the episode opened before, openings <= pool.
    reads = ~openings
    open_then = (opened_through - opened_before[episode_of_action])[reads]
    illegal = np.bincount(episode_of_action[codes < min(PROBE_NEW, FULL_READ)], minlength=n) > 0
    illegal |= np.bincount(episode_of_action[reads][codes[reads] >= open_then], minlength=n) > 0
    illegal |= opened > pool
    legal = ~illegal
    if illegal.any():  # account for the legal episodes only (an illegal slot has no branch)
        keep = legal[episode_of_action]
        codes, episode_of_action, openings = codes[keep], episode_of_action[keep], openings[keep]
        reads = ~openings
        opened = np.where(legal, opened, 0)

    # Slots of all episodes, numbered in opening order: episode e's slot s is
    # first_slot[e] + s; its branch is the s-th of e's order.
    first_slot = np.cumsum(opened) - opened
    episode_of_slot = np.repeat(np.arange(n), opened)
    slot_in_episode = np.arange(len(episode_of_slot)) - first_slot[episode_of_slot]
    reads_per_slot = 1 + np.bincount(
        first_slot[episode_of_action[reads]] + codes[reads], minlength=len(episode_of_slot)
    )
    full = codes[openings] == FULL_READ
    layout = _Layout(questions, sorted(set(question.tolist())))
    if flat_orders is None:
        flat_orders = np.fromiter(
            chain.from_iterable(order for _, order in episodes),
            dtype=np.int64,
            count=int(pool.sum()),
        )
    elif len(flat_orders) != pool.sum():
        raise ValueError(f"flat_orders has {len(flat_orders)} entries, the orders {pool.sum()}")
    local_branch = flat_orders[(np.cumsum(pool) - pool)[episode_of_slot] + slot_in_episode]
    question_of_slot = question[episode_of_slot]
    branch = layout.branch_base[question_of_slot] + local_branch

    k, probes, length = reads_per_slot, layout.n_probes[branch], layout.tokens[branch]
    freq = layout.probe_freq[question_of_slot]
    charge = np.where(full, length, slot_charges(k, probes, length, freq))
    cost = np.bincount(episode_of_slot, weights=charge, minlength=n)
    longest = np.zeros(n, dtype=np.int64)
    some = opened > 0
    if some.any():
        longest[some] = np.maximum.reduceat(charge, first_slot[some])

    # The read of each slot's branch that first returned its episode's answer.
    answer_index = np.fromiter(
        (_answer_index(questions[q], answer) for (q, _), answer in zip(episodes, answers)),
        dtype=np.int64,
        count=n,
    )
    wanted = answer_index[episode_of_slot]
    asked = wanted >= 0
    first_read = np.full(len(branch), _NEVER, dtype=np.int64)
    at = layout.first_base[question_of_slot] + wanted * layout.width[question_of_slot]
    first_read[asked] = layout.first[(at + local_branch)[asked]]
    # A full read reveals the final answer only, never the probes it went past.
    seen = asked & np.where(full, layout.final[branch] == wanted, first_read <= k)
    revealed = np.bincount(episode_of_slot[seen], minlength=n) > 0
    return LogAccounts(legal, cost.astype(np.float64), longest.astype(np.float64), opened, revealed)


class _Layout:
    """The per-branch arrays of the questions used, laid end to end, and per question
    where its part starts (indexed by question number)."""

    def __init__(self, questions: Sequence[ReplayQuestion], used: list[int]) -> None:
        parts = [questions[q] for q in used]
        firsts = [_question_tables(question).first for question in parts]
        size = len(questions)
        self.branch_base = np.zeros(size, dtype=np.int64)
        self.branch_base[used] = np.cumsum([0] + [p.n_branches for p in parts])[:-1]
        self.first_base = np.zeros(size, dtype=np.int64)
        self.first_base[used] = np.cumsum([0] + [t.size for t in firsts])[:-1]
        self.width = np.zeros(size, dtype=np.int64)
        self.width[used] = [p.n_branches for p in parts]
        self.probe_freq = np.zeros(size, dtype=np.int64)
        self.probe_freq[used] = [p.probe_freq for p in parts]
        self.tokens = _joined([p.tokens for p in parts])
        self.n_probes = _joined([p.n_probes for p in parts])
        self.final = _joined([p.final for p in parts])
        self.first = _joined([t.ravel() for t in firsts])


def _joined(arrays: list[IntArray]) -> IntArray:
    return np.concatenate(arrays).astype(np.int64) if arrays else np.zeros(0, dtype=np.int64)


def _answer_index(question: ReplayQuestion, answer: object) -> int:
    if type(answer) is not str:
        return -1
    return _question_tables(question).index.get(answer, -1)
