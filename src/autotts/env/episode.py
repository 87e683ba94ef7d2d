"""The state of one replay episode, charged by the rule of :mod:`autotts.env.charging`.

An episode replays one question's branches in a given order (the shuffled pool).
Branches are numbered by *slot*: the order in which they are opened (0, 1, 2, ...).
Each opened branch has a depth (intervals of Δ tokens generated so far) and may be
finished (generated to its end). What it costs:

* one more interval while the branch still has probe points: Δ tokens;
* running to its end from depth ``d``: ``max(0, branch_tokens - Δ·d)`` tokens, so a
  branch read to its end in one go costs exactly its length, and a branch walked
  probe by probe costs ``max(Δ·n_probes, branch_tokens)`` (probes may overcharge,
  as the published code does);
* revealing an answer not seen before: ``kappa_probe·Δ`` tokens (0 in the
  reference protocol).

Both the formal MDP (:mod:`autotts.env.mdp`) and the imperative session API
(:mod:`autotts.env.session`) drive this class; neither charges anything itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from autotts.env.charging import finish_charge
from autotts.errors import BudgetExceeded, InvalidAction, NoMoreBranches

if TYPE_CHECKING:  # the sandbox's lean worker imports slot_error where NumPy may be absent
    from autotts.data.records import ReplayQuestion

__all__ = ["Episode", "slot_error"]


def slot_error(slot: object, opened: int) -> InvalidAction | None:
    """The error for reading branch ``slot`` when ``opened`` branches are open, or None if legal.

    One text for every episode kind: a slot must be an ``int`` (not a ``bool``) in
    ``[0, opened)``.
    """
    if not isinstance(slot, int) or isinstance(slot, bool):
        return InvalidAction(f"branch index must be an int, got {type(slot).__name__}")
    if not 0 <= slot < opened:
        return InvalidAction(
            f"branch {slot} is not open (open branches: 0..{opened - 1})"
            if opened
            else f"branch {slot} is not open (no branch is open yet)"
        )
    return None


class Episode:
    """Mutable state of one episode over ``question`` with branches in ``order``.

    ``order`` lists the question's branch indices in the order they will be
    opened; it may be shorter than the question's branch list (a sub-sample).
    """

    __slots__ = (
        "_answers",
        "_budget",
        "_confidences",
        "_n_probes",
        "_order",
        "_probe_tokens",
        "_tokens",
        "charged",
        "cost",
        "depth",
        "finished",
        "probe_freq",
        "pruned",
        "revealed",
    )

    def __init__(
        self,
        question: ReplayQuestion,
        order: Sequence[int],
        *,
        kappa_probe: float = 0.0,
        budget: float | None = None,
    ) -> None:
        n = question.n_branches
        if any(not 0 <= b < n for b in order) or len(set(order)) != len(order):
            raise InvalidAction(f"order must list distinct branch indices in [0, {n})")
        if kappa_probe < 0:
            raise InvalidAction(f"kappa_probe must be >= 0, got {kappa_probe}")
        strings, tokens, n_probes = (
            question.answer_strings,
            question.token_list,
            question.probe_count_list,
        )
        self._order = tuple(order)
        self._answers = [strings[b] for b in self._order]
        self._tokens = [tokens[b] for b in self._order]
        self._n_probes = [n_probes[b] for b in self._order]
        # Optional probe confidences (None for data without them); only read by confidence().
        confidences = getattr(question, "confidence_lists", None)
        self._confidences = None if confidences is None else [confidences[b] for b in self._order]
        self._probe_tokens = kappa_probe * question.probe_freq
        self._budget = budget
        self.probe_freq = question.probe_freq
        #: per opened slot: intervals generated, tokens charged, finished, pruned
        self.depth: list[int] = []
        self.charged: list[float] = []
        self.finished: list[bool] = []
        self.pruned: list[bool] = []
        #: (slot, depth) of every answer revealed so far; depth -1 means the final answer
        self.revealed: set[tuple[int, int]] = set()
        self.cost: float = 0

    # -- queries ---------------------------------------------------------------
    @property
    def opened(self) -> int:
        return len(self.depth)

    @property
    def pool_size(self) -> int:
        return len(self._order)

    @property
    def sequential_cost(self) -> float:
        """Tokens of the longest branch: the latency a parallel decoder would see."""
        return max(self.charged, default=0)

    def n_probes(self, slot: int) -> int:
        self._check_open(slot)
        return self._n_probes[slot]

    def continue_cost(self, slot: int, to_end: bool = False) -> float:
        """What :meth:`advance` would charge (assumes the slot may advance), by the rule
        of :mod:`autotts.env.charging`."""
        depth = self.depth[slot]
        if to_end or depth >= self._n_probes[slot]:
            return finish_charge(self._tokens[slot], self.probe_freq, depth)
        return self.probe_freq

    def affordable(self, tokens: float) -> bool:
        """Whether charging ``tokens`` more stays within the budget (the one budget test)."""
        return self._budget is None or self.cost + tokens <= self._budget

    def reveal_cost(self, slot: int) -> float:
        return 0 if self._reveal_key(slot) in self.revealed else self._probe_tokens

    # -- transitions -----------------------------------------------------------
    def open_branch(self) -> int:
        """Open the next branch of the pool at depth 0 (free); return its slot."""
        slot = len(self.depth)
        if slot >= len(self._order):
            raise NoMoreBranches(f"all {len(self._order)} branches are open already")
        self.depth.append(0)
        self.charged.append(0)
        self.finished.append(False)
        self.pruned.append(False)
        return slot

    def advance(self, slot: int, to_end: bool = False) -> None:
        """Generate one more interval of ``slot`` (or everything left, if ``to_end``).

        A branch without further probe points always runs to its end.
        """
        self._check_live(slot)
        tokens = self.continue_cost(slot, to_end)
        self._charge(slot, tokens)
        if to_end or self.depth[slot] >= self._n_probes[slot]:
            self.finished[slot] = True
        else:
            self.depth[slot] += 1

    def reveal(self, slot: int) -> str:
        """The branch's answer where it stands: its probe at this depth, or its final answer."""
        self._check_open(slot)
        if self.pruned[slot]:
            raise InvalidAction(f"branch {slot} was pruned")
        key = self._reveal_key(slot)
        if key[1] == 0:
            raise InvalidAction(f"branch {slot} has generated nothing yet: continue it first")
        if key not in self.revealed:
            self._charge(slot, self._probe_tokens)
            self.revealed.add(key)
        return self.revealed_answer(*key)

    def revealed_answer(self, slot: int, depth: int) -> str:
        """The answer of ``slot`` at ``depth`` (-1: final); only for keys in :attr:`revealed`."""
        if (slot, depth) not in self.revealed:
            raise InvalidAction(f"the answer of branch {slot} at depth {depth} is not revealed")
        return self._answers[slot][depth - 1 if depth > 0 else -1]

    def confidence(self, slot: int) -> float | None:
        """The confidence of the probe answer ``slot`` revealed last, or ``None``: for a
        final answer, data without confidences, or a probe whose answer is not revealed
        (a confidence is paid for with its answer, never before)."""
        self._check_open(slot)
        if self._confidences is None or self.finished[slot]:
            return None
        depth = self.depth[slot]
        if (slot, depth) not in self.revealed:
            return None
        value: float | None = self._confidences[slot][depth - 1]
        return value

    def explore(self, slot: int) -> tuple[str, bool]:
        """The reference protocol's read: advance one interval and reveal, ``(answer, finished)``.

        A finished branch is not advanced; it reveals its final answer again for free.
        """
        self._check_open(slot)
        if not self.finished[slot]:
            self.advance(slot)
        return self.reveal(slot), self.finished[slot]

    def prune(self, slot: int) -> None:
        self._check_open(slot)
        if self.pruned[slot]:
            raise InvalidAction(f"branch {slot} was pruned already")
        self.pruned[slot] = True

    # -- internals -------------------------------------------------------------
    def _reveal_key(self, slot: int) -> tuple[int, int]:
        return (slot, -1 if self.finished[slot] else self.depth[slot])

    def _charge(self, slot: int, tokens: float) -> None:
        if not self.affordable(tokens):
            raise BudgetExceeded(
                f"charging {tokens:g} tokens to branch {slot} would exceed the budget "
                f"({self.cost:g} of {self._budget:g} used)"
            )
        self.charged[slot] += tokens
        self.cost += tokens

    def _check_open(self, slot: int) -> None:
        error = slot_error(slot, len(self.depth))
        if error is not None:
            raise error

    def _check_live(self, slot: int) -> None:
        self._check_open(slot)
        if self.pruned[slot]:
            raise InvalidAction(f"branch {slot} was pruned")
        if self.finished[slot]:
            raise InvalidAction(f"branch {slot} is finished: it has nothing left to generate")
