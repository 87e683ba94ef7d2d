"""The Beta-policy controller, one episode at a time, on the public API only.

This module is the body of every exported policy file (:mod:`.export` copies it and
appends a subclass holding the trained weights), so it imports nothing but
``autotts``'s public names and keeps to plain Python: the sandbox runs it as it
would any file written elsewhere.

The episode is a loop of decisions. Before each one the controller describes the
state by :func:`features`; two rules, each a probability computed from those features,
decide:

1. *stop* (answer now) or go on;
2. if going on, *branch* (open one new branch) or *probe* (read one more probe of
   every open, unfinished branch).

A branch that cannot be carried out becomes the other one (no branch left to open:
probe; nothing left to probe: branch), and with neither possible the episode stops.
The answer is the plurality of the finished branches' final answers (ties: the one
finished first), else of the open branches' latest answers.

In the trained policy each rule's probability is drawn from a Beta distribution
whose shape parameters ``a``, ``b`` are softplus functions of linear scores of the
features (:mod:`autotts.discovery.policy.family`); the action's probability, once
the draw is integrated out, is the Beta's mean ``a / (a + b)``. This controller plays
that *mean policy* without random numbers: per rule it adds each decision's
probability to a running sum (starting at one half) and acts when the sum reaches
1, then takes 1 off. Over many decisions it acts as often as the policy would, and
a rule whose probability is near 0 or 1 acts as the likelier action. It is
deterministic and keeps nothing between episodes. β enters only as a feature, so
the one knob moves both rules smoothly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

# Exported files replace these imports with the public ones (see export.py).
from autotts.controllers.base import Controller
from autotts.controllers.voting import beta_confidence, majority, vote_stats

if TYPE_CHECKING:
    from autotts.env.session import Session

__all__ = [
    "FEATURES",
    "FLOOR",
    "MAX_STEPS",
    "MAX_WIDTH",
    "TOKEN_SCALE",
    "PolicyController",
    "features",
    "mean_probability",
]

#: Names of the state features, in the order of the weight vectors.
FEATURES = (
    "bias",
    "beta",
    "conf",
    "agree",
    "width",
    "done",
    "spent",
    "beta_conf",
    "beta_spent",
)
#: Tokens that make ``spent`` 1.0: about what CMC spends per question at β = 1.
TOKEN_SCALE = 500_000.0
#: Branches one episode may open (the protocol's 64-branch ceiling).
MAX_WIDTH = 64
#: Decisions per episode; then the episode answers whatever it has.
MAX_STEPS = 200
#: Smallest Beta shape parameter: keeps the density finite where a score is very negative.
FLOOR = 0.05


def features(
    beta: float, conf: float, agree: float, width: float, done: float, spent: float
) -> tuple[float, ...]:
    """The state as the rules see it, in :data:`FEATURES` order.

    ``conf``: Beta majority confidence of the finished answers; ``agree``: share of
    open branches whose latest answer is the plurality one; ``width``: branches
    opened / 64; ``done``: share of open branches finished; ``spent``: tokens /
    :data:`TOKEN_SCALE`. The two products let β change how much confidence and
    spending weigh, not only the rules' offsets.
    """
    return (1.0, beta, conf, agree, width, done, spent, beta * conf, beta * spent)


def score(weights: Sequence[float], phi: Sequence[float]) -> float:
    """``weights · phi`` summed left to right (the batch version sums in the same order)."""
    total = 0.0
    for w, x in zip(weights, phi):
        total += w * x
    return total


def softplus(z: float) -> float:
    """``log(1 + e^z)`` without overflow (the batch version uses the same formula)."""
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


def mean_probability(wa: Sequence[float], wb: Sequence[float], phi: Sequence[float]) -> float:
    """The Beta's mean ``a / (a + b)``, ``a = softplus(wa · phi) + FLOOR`` (``b`` alike)."""
    a = softplus(score(wa, phi)) + FLOOR
    b = softplus(score(wb, phi)) + FLOOR
    return a / (a + b)


class PolicyController(Controller):
    """The mean policy of a trained Beta policy; subclasses set the weights.

    ``STOP_A[i]``: weight of feature ``i`` in the stop rule's ``a`` score, and so on.
    """

    name = "beta-policy"
    STOP_A: tuple[float, ...] = (0.0,) * len(FEATURES)
    STOP_B: tuple[float, ...] = (0.0,) * len(FEATURES)
    BRANCH_A: tuple[float, ...] = (0.0,) * len(FEATURES)
    BRANCH_B: tuple[float, ...] = (0.0,) * len(FEATURES)

    def __init__(self, beta: float = 0.5) -> None:
        # the β schedule: β is clamped to [0, 1] and enters both rules as a feature
        self.beta = min(1.0, max(0.0, float(beta)))

    def solve(self, session: Session) -> str | None:
        beta = self.beta
        slots: list[int] = []
        latest: list[str] = []
        finished: list[bool] = []
        completed: list[str] = []  # final answers in the order branches finished

        def open_branch() -> None:
            answer, slot, done = session.probe_new()
            slots.append(slot)
            latest.append(answer)
            finished.append(done)
            if done:
                completed.append(answer)

        # running sums of the rules' probabilities since each rule last acted
        due_stop = due_branch = 0.5
        open_branch()
        for step in range(MAX_STEPS + 1):
            n_open = len(slots)
            winner, top1, top2 = vote_stats(completed)
            leader = majority(latest)
            phi = features(
                beta,
                beta_confidence(top1, top2),
                latest.count(leader) / n_open if leader is not None else 0.0,
                n_open / MAX_WIDTH,
                len(completed) / n_open,
                session.tokens_used / TOKEN_SCALE,
            )
            answer = winner if completed else leader
            due_stop += mean_probability(self.STOP_A, self.STOP_B, phi)
            if step == MAX_STEPS or due_stop >= 1.0:
                self._finish(session, "policy" if step < MAX_STEPS else "step limit", answer)
                return answer
            can_open = n_open < MAX_WIDTH and session.can_branch
            live = [i for i in range(n_open) if not finished[i]]
            due_branch += mean_probability(self.BRANCH_A, self.BRANCH_B, phi)
            branch = due_branch >= 1.0
            if branch:
                due_branch -= 1.0
            if can_open and (branch or not live):
                open_branch()
            elif live:
                for i in live:
                    latest[i], finished[i] = session.probe_more(slots[i])
                    if finished[i]:
                        completed.append(latest[i])
            else:
                self._finish(session, "nothing left to read", answer)
                return answer
        return None  # not reached: the last step always answers

    @staticmethod
    def _finish(session: Session, reason: str, answer: str | None) -> None:
        if session.tracing:
            session.trace(
                "finish",
                goal="answer",
                output={"answer": answer},
                decision=f"stop ({reason}): answer {answer!r}",
            )
