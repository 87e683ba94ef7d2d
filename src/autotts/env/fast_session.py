"""A specialised reference-protocol session: one lean method per read.

:class:`FastSession` is a drop-in :class:`~autotts.env.session.Session` (it is
one: ``isinstance(session, Session)`` holds) for the common case of the
episode-by-episode path — the reference charging rule (no probe charge, no
budget) and no trace recorded. It gives exactly the numbers, answers and errors
of ``StepLimitedSession(Episode(question, order))``: the same exception classes
with the same messages for a bad slot type, a ``bool``, an unknown slot, no more
branches and the step limit (which keeps raising after the first time).

Why it is faster: an :class:`~autotts.env.episode.Episode` keeps a general
account (per-slot depth, finished, pruned and charged lists, a reveal set, a
budget test) and a read walks several layers of calls to update it. Here a read
is one method: a bounds test, one append to the action log and one ``next`` on
the slot's iterator over a per-question table of ``(answer, finished)`` pairs
(built once per question, shared by every seed and every β that replays it).

Tokens are not charged per read: every successful primitive is in :attr:`log`
(the action codes of :mod:`autotts.sandbox.replay`), and the accounts —
reads per slot, tokens per slot, the total — are brought up to date from the
log only when asked for (:attr:`tokens_used`, :attr:`cost`,
:attr:`sequential_cost`), by the charging rule (:mod:`autotts.env.charging`).
"""

from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import Iterator, Sequence
from itertools import chain, repeat
from typing import TYPE_CHECKING

from autotts.env.charging import FULL, read_charge, slot_charge
from autotts.env.episode import slot_error
from autotts.env.limits import DEFAULT_MAX_STEPS, step_limit_error
from autotts.env.session import Probe, Session
from autotts.errors import NoMoreBranches

if TYPE_CHECKING:
    # Only annotations: this module runs without NumPy too (the sandbox's PyPy worker,
    # whose questions are :class:`~autotts.sandbox.plain.PlainQuestion`s).
    from autotts.data.records import ReplayQuestion

__all__ = ["FULL_READ", "PROBE_NEW", "FastSession", "read_table"]

#: action codes of a log: probe_new(), full_read(); an index i >= 0 is probe_more(i)
PROBE_NEW, FULL_READ = -1, -2

Read = tuple[str, bool]
_tables: weakref.WeakKeyDictionary[ReplayQuestion, tuple[tuple[Read, ...], ...]] = (
    weakref.WeakKeyDictionary()
)
_new_probe = tuple.__new__  # builds a Probe without the Python-level NamedTuple constructor


def read_table(question: ReplayQuestion) -> tuple[tuple[Read, ...], ...]:
    """Per branch, what its successive reads return: ``(probe, False)``…, ``(final, True)``.

    Built once per question and cached for as long as the question lives.
    """
    table = _tables.get(question)
    if table is None:
        flags: dict[int, tuple[bool, ...]] = {}  # (False, …, False, True) per row length
        table = tuple(
            tuple(zip(row, flags.get(len(row)) or flags.setdefault(len(row), _flags(len(row)))))
            for row in question.answer_strings
        )
        _tables[question] = table
    return table


def _flags(length: int) -> tuple[bool, ...]:
    return (False,) * (length - 1) + (True,)


class FastSession(Session):
    """One reference-protocol episode over ``question`` with branches in ``order``.

    At most ``max_steps`` read calls are allowed, refused ones included (as
    :class:`~autotts.env.limits.StepLimitedSession`). ``order`` must list distinct
    branch indices of ``question`` (the evaluator builds it; it is not checked here).
    """

    __slots__ = (
        "_confidence",
        "_cost",
        "_counted",
        "_depths",
        "_iters",
        "_limit",
        "_max_steps",
        "_order",
        "_pool",
        "_question",
        "_reads",
        "_synced",
        "_table",
        "log",
    )

    def __init__(
        self,
        question: ReplayQuestion,
        order: Sequence[int],
        *,
        max_steps: int = DEFAULT_MAX_STEPS,
    ) -> None:
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        self._trace = None
        self._question = question
        self._table = read_table(question)
        self._order = order
        self._pool = len(order)
        self._max_steps = max_steps
        #: a call is refused once len(log) reaches this; lowered by every refused call
        self._limit = max_steps
        #: per opened slot, the iterator of its remaining reads
        self._iters: list[Iterator[Read]] = []
        #: every primitive that succeeded, in order (PROBE_NEW, FULL_READ or a slot)
        self.log: list[int] = []
        # the accounts, up to date with log[:_synced]: reads per slot, tokens charged
        self._synced = 0
        self._reads: list[int] = []
        self._cost = 0
        # probe_confidence()'s own count of reads per slot, up to date with log[:_counted]
        # (kept apart from the charging accounts: it only needs depths, never tokens)
        self._confidence = getattr(question, "confidence_lists", None)
        self._depths: list[int] = []
        self._counted = 0

    # -- the read primitives (each one flat method: this is the hot loop) ----------
    def probe_new(self) -> Probe:
        """Open the next branch and read its first probe."""
        slot, reads = self._open(PROBE_NEW)
        self._iters.append(chain(reads[1:], repeat(reads[-1])))
        answer, finished = reads[0]
        return _new_probe(Probe, (answer, slot, finished))

    def probe_more(self, branch: int) -> Read:
        """Read the next probe of open branch ``branch``: ``(answer, finished)``."""
        log = self.log
        if len(log) >= self._limit:
            self._limit -= 1
            raise step_limit_error(self._max_steps)
        if type(branch) is not int or branch < 0:
            branch = self._legal_slot(branch)
        try:
            reads = self._iters[branch]
        except IndexError:
            self._limit -= 1
            error = slot_error(branch, len(self._iters))
            assert error is not None  # a slot past the open ones
            raise error from None
        log.append(branch)
        return next(reads)

    def _legal_slot(self, branch: object) -> int:
        """``branch`` as a slot, or the error for it (counted as a refused call)."""
        error = slot_error(branch, len(self._iters))
        if error is not None:
            self._limit -= 1
            raise error
        assert isinstance(branch, int)  # slot_error() accepted it: an int subclass (an IntEnum)
        return int(branch)

    def full_read(self) -> str:
        """Open the next branch, generate all of it, return its final answer."""
        _, reads = self._open(FULL_READ)
        self._iters.append(repeat(reads[-1]))
        return reads[-1][0]

    def _open(self, code: int) -> tuple[int, tuple[Read, ...]]:
        """Count a call that opens a branch (``code`` for the log): its slot and reads."""
        log = self.log
        if len(log) >= self._limit:
            self._limit -= 1
            raise step_limit_error(self._max_steps)
        slot = len(self._iters)
        if slot >= self._pool:
            self._limit -= 1
            raise NoMoreBranches(f"all {self._pool} branches are open already")
        log.append(code)
        return slot, self._table[self._order[slot]]

    get_new_branch_final_answer = full_read

    def probe_confidence(self, branch: int) -> float | None:
        """The confidence of the answer the latest read of ``branch`` returned (see
        :meth:`Session.probe_confidence`). Not a read: not logged, not counted."""
        if type(branch) is not int or not 0 <= branch < len(self._iters):
            error = slot_error(branch, len(self._iters))
            if error is not None:
                raise error
            branch = int(branch)
        table = self._confidence
        if table is None:
            return None
        depths = self._depths
        log = self.log
        for action in log[self._counted :]:
            if action >= 0:
                depths[action] += 1
            else:  # a full read's slot gets a depth past every probe: its answer is final
                depths.append(1 if action == PROBE_NEW else FULL)
        self._counted = len(log)
        row = table[self._order[branch]]
        depth = depths[branch]
        return row[depth - 1] if depth <= len(row) else None

    # -- what a controller may know ------------------------------------------------
    @property
    def probe_freq(self) -> int:
        return self._question.probe_freq

    @property
    def branches_opened(self) -> int:
        return len(self._iters)

    @property
    def can_branch(self) -> bool:
        return len(self._iters) < self._pool

    @property
    def tokens_used(self) -> float:
        # An Episode's total turns float with its first read (the 0.0 probe charge).
        return self.cost if self._iters else 0

    # -- the evaluator's accounts ----------------------------------------------------
    @property
    def steps(self) -> int:
        """Read calls made so far, refused ones included (as :class:`StepLimitedSession`)."""
        return len(self.log) + self._max_steps - self._limit

    @property
    def opened(self) -> int:
        return len(self._iters)

    @property
    def cost(self) -> float:
        """Tokens charged so far."""
        self._sync()
        return float(self._cost)

    @property
    def sequential_cost(self) -> float:
        """Tokens of the longest branch: the latency a parallel decoder would see."""
        return max(self.charges(), default=0.0)

    def charges(self) -> list[float]:
        """Tokens charged to each opened slot so far."""
        self._sync()
        question = self._question
        freq, tokens, n_probes = question.probe_freq, question.token_list, question.probe_count_list
        out: list[float] = []
        for b, k in zip(self._order, self._reads):
            out.append(float(slot_charge(k, n_probes[b], tokens[b], freq)))
        return out

    def _sync(self) -> None:
        """Bring reads per slot and the total up to date with the log.

        By the charging rule (:mod:`autotts.env.charging`); a full read makes every
        later read of its branch free.
        """
        log = self.log
        start = self._synced
        if start == len(log):
            return
        question = self._question
        freq, tokens, n_probes = question.probe_freq, question.token_list, question.probe_count_list
        order, reads = self._order, self._reads
        cost = self._cost
        if start == 0:  # a whole episode at once: count reads per slot in C, charge per slot
            counts = Counter(log)
            full = counts[FULL_READ] > 0
            for slot in range(counts[PROBE_NEW] + counts[FULL_READ]):
                reads.append(1 + counts[slot])
            if full:  # which slots were full reads is in the log's order of openings
                opened = 0
                for action in log:
                    if action < 0:
                        if action == FULL_READ:
                            reads[opened] = FULL
                        opened += 1
            for b, k in zip(order, reads):
                cost += slot_charge(k, n_probes[b], tokens[b], freq)
        else:
            for action in log[start:]:
                if action >= 0:
                    k = reads[action]
                    if k >= FULL:  # a fully read branch: its reads are free
                        continue
                    k += 1
                    reads[action] = k
                elif action == PROBE_NEW:
                    k = 1
                    action = len(reads)
                    reads.append(1)
                else:
                    cost += tokens[order[len(reads)]]
                    reads.append(FULL)
                    continue
                branch = order[action]
                cost += read_charge(k, n_probes[branch], tokens[branch], freq)
        self._cost = cost
        self._synced = len(log)
