"""An LLM-style controller file, kept as a benchmark (issue 22): a staged search in the
manner of the paper's search-history candidates.

Three stages (explore, exploit, verify) run by a small state machine; every read goes
through a helper that validates it and appends a trace dict; failures of the session
(no branch left, a branch that cannot be read) are caught as control flow; each stage
writes its reasoning as f-strings. Honest: it decides only on what it read in the
episode. ``benchmarks/llm_round.py`` times a discovery round of it.
"""

# Typing as LLMs write it (typing.Dict, Optional): these files stand for their code.
# ruff: noqa: UP006, UP035, UP045

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from enum import Enum
from typing import Any, Dict, List, Optional

from autotts import Controller, InvalidAction, NoMoreBranches, Session


class Stage(Enum):
    EXPLORE = "explore"
    EXPLOIT = "exploit"
    VERIFY = "verify"
    DONE = "done"


class StageComplete(Exception):
    """Signals the end of the current stage."""


class BudgetExhausted(Exception):
    """Signals that the controller's own read budget is spent."""


@dataclass
class Observation:
    slot: int
    depth: int
    answer: str
    finished: bool

    @property
    def valid(self) -> bool:
        return self.answer != "ERR"


class SearchMemory:
    """Per-episode record of every observation, with summary statistics."""

    def __init__(self) -> None:
        self.observations: List[Observation] = []
        self.by_slot: Dict[int, List[Observation]] = defaultdict(list)
        self.finished: Dict[int, str] = {}

    def add(self, obs: Observation) -> None:
        self.observations.append(obs)
        self.by_slot[obs.slot].append(obs)
        if obs.finished:
            self.finished[obs.slot] = obs.answer

    def latest(self, slot: int) -> Optional[Observation]:
        seen = self.by_slot.get(slot)
        return seen[-1] if seen else None

    def open_slots(self) -> List[int]:
        return [slot for slot in self.by_slot if slot not in self.finished]

    def distribution(self, finished_only: bool = False) -> Counter:
        if finished_only:
            return Counter(a for a in self.finished.values() if a != "ERR")
        latest = [self.latest(slot) for slot in self.by_slot]
        return Counter(o.answer for o in latest if o is not None and o.valid)

    def entropy(self) -> float:
        counts = self.distribution()
        total = sum(counts.values())
        if total == 0:
            return float("inf")
        return -sum((c / total) * math.log(c / total) for c in counts.values())

    def agreement(self, slot: int, answer: str) -> int:
        """How many of ``slot``'s last reads gave ``answer`` in a row."""
        run = 0
        for obs in reversed(self.by_slot.get(slot, [])):
            if obs.answer != answer:
                break
            run += 1
        return run


class StagedSearch(Controller):
    name = "llm-staged-search"

    def __init__(self, beta: float = 0.5) -> None:
        b = min(1.0, max(0.0, float(beta)))
        self.beta = b
        self.explore_width = max(2, round(3 + 7 * b))
        self.explore_depth = max(1, round(1 + 3 * b))
        self.exploit_reads = max(4, round(8 + 120 * b))
        self.verify_branches = max(1, round(1 + 4 * b))
        self.entropy_stop = round(0.35 - 0.3 * b, 4)
        self.streak = max(2, round(2 + 4 * b))
        self.max_reads = round(60 + 400 * b)

    def params(self) -> Dict[str, Any]:
        return {
            "beta": self.beta,
            "explore_width": self.explore_width,
            "exploit_reads": self.exploit_reads,
        }

    def solve(self, session: Session) -> Optional[str]:
        memory = SearchMemory()
        trace: List[Dict[str, Any]] = []
        context = {"reads": 0, "stage": Stage.EXPLORE}
        stages = [
            (Stage.EXPLORE, self._explore),
            (Stage.EXPLOIT, self._exploit),
            (Stage.VERIFY, self._verify),
        ]
        for stage, run in stages:
            context["stage"] = stage
            try:
                run(session, memory, trace, context)
            except StageComplete:
                continue
            except BudgetExhausted:
                self._note(session, trace, "budget", f"read budget {self.max_reads} spent")
                break
        return self._decide(session, memory, trace)

    # -- reads -----------------------------------------------------------------------
    def _read(
        self,
        session: Session,
        memory: SearchMemory,
        trace: List[Dict[str, Any]],
        context: Dict[str, Any],
        slot: Optional[int] = None,
    ) -> Observation:
        if context["reads"] >= self.max_reads:
            raise BudgetExhausted()
        try:
            if slot is None:
                answer, slot, finished = session.probe_new()
            else:
                answer, finished = session.probe_more(slot)
        except NoMoreBranches:
            raise StageComplete() from None
        except InvalidAction as exc:
            raise StageComplete() from exc
        if not isinstance(answer, str) or not isinstance(finished, bool):
            raise TypeError("the session returned an unexpected read")
        context["reads"] += 1
        depth = len(memory.by_slot.get(slot, [])) + 1
        obs = Observation(slot=slot, depth=depth, answer=answer, finished=finished)
        memory.add(obs)
        entry = {
            "stage": context["stage"].value,
            "read": context["reads"],
            "slot": slot,
            "depth": depth,
            "answer": answer,
            "finished": finished,
            "tokens": session.tokens_used,
        }
        trace.append(entry)
        session.trace(
            "observe", input={"slot": slot}, output=entry, state={"reads": context["reads"]}
        )
        return obs

    def _note(self, session: Session, trace: List[Dict[str, Any]], event: str, text: str) -> None:
        trace.append({"event": event, "text": text})
        session.trace(event, decision=text)

    # -- stages ------------------------------------------------------------------------
    def _explore(self, session, memory, trace, context) -> None:
        for _ in range(self.explore_width):
            obs = self._read(session, memory, trace, context)
            for _ in range(self.explore_depth - 1):
                if obs.finished:
                    break
                obs = self._read(session, memory, trace, context, obs.slot)
        self._note(
            session,
            trace,
            "explore-done",
            f"{len(memory.by_slot)} branches, entropy {memory.entropy():.3f}, "
            f"distribution {dict(memory.distribution())}",
        )
        raise StageComplete()

    def _exploit(self, session, memory, trace, context) -> None:
        for _ in range(self.exploit_reads):
            counts = memory.distribution()
            if not counts:
                self._read(session, memory, trace, context)
                continue
            leader, _ = counts.most_common(1)[0]
            if memory.entropy() <= self.entropy_stop and len(memory.finished) >= 2:
                self._note(session, trace, "exploit-stop", f"entropy low, leader {leader}")
                raise StageComplete()
            open_slots = memory.open_slots()
            if not open_slots:
                self._read(session, memory, trace, context)
                continue
            # Follow the branch that agrees with the leader longest; ties to the lowest slot.
            ranked = sorted(
                open_slots,
                key=lambda s: (-memory.agreement(s, leader), s),
            )
            target = ranked[0]
            latest = memory.latest(target)
            if latest is not None and latest.answer != leader and len(open_slots) < 3:
                self._read(session, memory, trace, context)
            else:
                self._read(session, memory, trace, context, target)
        raise StageComplete()

    def _verify(self, session, memory, trace, context) -> None:
        finals = memory.distribution(finished_only=True)
        if finals and finals.most_common(1)[0][1] >= self.streak:
            self._note(session, trace, "verify-skip", f"finished votes {dict(finals)}")
            raise StageComplete()
        for slot in memory.open_slots()[: self.verify_branches]:
            obs = memory.latest(slot)
            while obs is not None and not obs.finished:
                obs = self._read(session, memory, trace, context, slot)
        raise StageComplete()

    def _decide(self, session, memory, trace) -> Optional[str]:
        finals = memory.distribution(finished_only=True)
        if finals:
            answer, votes = finals.most_common(1)[0]
            reason = f"majority of finished branches: {answer} with {votes} votes"
        else:
            counts = memory.distribution()
            if not counts:
                self._note(session, trace, "finish", "no valid answer read")
                return None
            answer, votes = counts.most_common(1)[0]
            reason = f"majority of latest probes: {answer} with {votes} votes"
        self._note(session, trace, "finish", reason)
        return answer
