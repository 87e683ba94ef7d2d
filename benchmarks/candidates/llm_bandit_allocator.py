"""An LLM-style controller file, kept as a benchmark (issue 22): the heaviest of the three.

A bandit-flavoured allocator: every branch is an "arm" scored by how often its latest
probe agrees with the current leader plus an exploration bonus; each step snapshots the
whole state with ``dataclasses.asdict``, summarises it with ``statistics``, keeps a
history of those snapshots, and writes a trace step built from them. Control flow leans
on exceptions. Honest: it decides only on what it read in the episode.
``benchmarks/llm_round.py`` times a discovery round of it.
"""

# Typing as LLMs write it (typing.Dict, Optional): these files stand for their code.
# ruff: noqa: UP006, UP035, UP037, UP045, SIM102

from __future__ import annotations

import heapq
import math
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional

from autotts import Controller, NoMoreBranches, Session, vote_stats


class Decision(Exception):
    """The controller's final answer, raised from deep inside the allocation loop."""

    def __init__(self, answer: Optional[str], why: str) -> None:
        super().__init__(why)
        self.answer = answer
        self.why = why


class ArmExhausted(Exception):
    """A branch (arm) has nothing left to read."""


@dataclass
class Arm:
    slot: int
    pulls: int = 0
    history: List[str] = field(default_factory=list)
    done: bool = False

    @property
    def latest(self) -> Optional[str]:
        return self.history[-1] if self.history else None

    def agreement_with(self, answer: Optional[str]) -> float:
        if not self.history or answer is None:
            return 0.0
        recent = self.history[-4:]
        return sum(1 for a in recent if a == answer) / len(recent)


@dataclass
class ArmView:
    slot: int
    pulls: int
    latest: Optional[str]
    done: bool


@dataclass
class Snapshot:
    step: int
    tokens: float
    leader: Optional[str]
    top1: int
    top2: int
    arms: List[ArmView]
    scores: Dict[int, float]


@dataclass(frozen=True)
class Plan:
    initial_arms: int
    max_arms: int
    max_steps: int
    exploration: float
    stop_margin: int
    stop_share: float
    new_arm_every: int

    @staticmethod
    def for_beta(beta: float) -> "Plan":
        b = min(1.0, max(0.0, float(beta)))
        return Plan(
            initial_arms=max(2, round(3 + 5 * b)),
            max_arms=max(4, round(6 + 18 * b)),
            max_steps=round(20 + 100 * b),
            exploration=round(0.5 + 1.5 * b, 4),
            stop_margin=max(2, round(2 + 5 * b)),
            stop_share=round(0.6 + 0.3 * b, 4),
            new_arm_every=max(2, round(6 - 3 * b)),
        )


class BanditAllocator(Controller):
    name = "llm-bandit-allocator"

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = float(beta)
        self.plan = Plan.for_beta(self.beta)

    def params(self) -> Dict[str, Any]:
        return {"beta": self.beta, "max_arms": self.plan.max_arms}

    def solve(self, session: Session) -> Optional[str]:
        arms: List[Arm] = []
        finals: List[str] = []
        history: List[Dict[str, Any]] = []
        try:
            for _ in range(self.plan.initial_arms):
                self._new_arm(session, arms, finals)
            for step in range(self.plan.max_steps):
                self._step(session, step, arms, finals, history)
        except Decision as decision:
            session.trace("finish", output={"stop_reason": decision.why}, decision=decision.why)
            return decision.answer
        except NoMoreBranches:
            pass
        winner, _, _ = vote_stats(finals)
        if winner is not None:
            return winner
        latest = [a.latest for a in arms if a.latest is not None and a.latest != "ERR"]
        return Counter(latest).most_common(1)[0][0] if latest else None

    def _new_arm(self, session: Session, arms: List[Arm], finals: List[str]) -> Arm:
        if len(arms) >= self.plan.max_arms or not session.can_branch:
            raise NoMoreBranches("no arm left to open")
        answer, slot, finished = session.probe_new()
        arm = Arm(slot=slot, pulls=1, history=[answer], done=finished)
        if finished:
            finals.append(answer)
        arms.append(arm)
        return arm

    def _pull(self, session: Session, arm: Arm, finals: List[str]) -> None:
        if arm.done:
            raise ArmExhausted(f"arm {arm.slot} is finished")
        answer, finished = session.probe_more(arm.slot)
        arm.pulls += 1
        arm.history.append(answer)
        if finished:
            arm.done = True
            finals.append(answer)

    def _scores(self, arms: List[Arm], leader: Optional[str], total: int) -> Dict[int, float]:
        scores: Dict[int, float] = {}
        for arm in arms:
            if arm.done:
                continue
            bonus = self.plan.exploration * math.sqrt(math.log(total + 1) / (arm.pulls + 1))
            scores[arm.slot] = arm.agreement_with(leader) + bonus
        return scores

    def _step(
        self,
        session: Session,
        step: int,
        arms: List[Arm],
        finals: List[str],
        history: List[Dict[str, Any]],
    ) -> None:
        leader, top1, top2 = vote_stats(finals)
        total = sum(arm.pulls for arm in arms)
        scores = self._scores(arms, leader, total)
        views = [ArmView(a.slot, a.pulls, a.latest, a.done) for a in arms]
        snapshot = Snapshot(step, session.tokens_used, leader, top1, top2, views, scores)
        record = asdict(snapshot)
        agreements = [arm.agreement_with(leader) for arm in arms]
        record["mean_agreement"] = statistics.mean(agreements) if agreements else 0.0
        record["spread"] = statistics.pstdev(agreements) if len(agreements) > 1 else 0.0
        history.append(record)
        session.trace(
            "allocate",
            input={"step": step, "finals": list(finals)},
            output={"leader": leader, "top1": top1, "top2": top2},
            state=record,
            decision=f"step {step}: leader {leader} ({top1}-{top2}), "
            f"mean agreement {record['mean_agreement']:.2f}",
        )
        if leader is not None and top1 - top2 >= self.plan.stop_margin:
            if top1 / max(1, len(finals)) >= self.plan.stop_share:
                raise Decision(leader, f"margin {top1 - top2} with share {top1 / len(finals):.2f}")
        if not scores or step % self.plan.new_arm_every == self.plan.new_arm_every - 1:
            try:
                self._new_arm(session, arms, finals)
            except NoMoreBranches:
                if not scores:
                    raise Decision(leader, "every arm is finished and none is left") from None
            return
        best = heapq.nlargest(2, scores.items(), key=lambda item: (item[1], -item[0]))
        by_slot = {arm.slot: arm for arm in arms}
        for slot, _ in best:
            try:
                self._pull(session, by_slot[slot], finals)
            except ArmExhausted:
                continue
