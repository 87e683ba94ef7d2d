"""An LLM-style controller file, kept as a benchmark (issue 22): written the way a language
model writes a controller when asked for one, not the way the lean example port is.

Adaptive consensus with a per-branch state class, a history of per-step trace dicts
built whether or not anyone reads them, an exception that leaves the main loop, f-string
decisions and defensive checks on every value read. It is honest (it decides only on
what it read in the episode) and passes ``autotts check``; ``benchmarks/llm_round.py``
times a discovery round of it.
"""

# Typing as LLMs write it (typing.Dict, Optional): these files stand for their code.
# ruff: noqa: UP006, UP035, UP037, UP045, RUF046

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from autotts import Controller, NoMoreBranches, Session, beta_confidence


class ConsensusReached(Exception):
    """Raised inside the search loop once the controller has decided to answer."""

    def __init__(self, answer: Optional[str], reason: str) -> None:
        super().__init__(reason)
        self.answer = answer
        self.reason = reason


@dataclass
class BranchState:
    """Everything the controller remembers about one opened branch."""

    slot: int
    answers: List[str] = field(default_factory=list)
    finished: bool = False
    pruned: bool = False
    disagreements: int = 0

    @property
    def latest(self) -> Optional[str]:
        return self.answers[-1] if self.answers else None

    @property
    def active(self) -> bool:
        return not self.finished and not self.pruned

    def stability(self, window: int) -> float:
        """Share of the last ``window`` probe answers equal to the latest one."""
        tail = self.answers[-window:]
        if not tail:
            return 0.0
        return tail.count(tail[-1]) / len(tail)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "slot": self.slot,
            "latest": self.latest,
            "depth": len(self.answers),
            "finished": self.finished,
            "pruned": self.pruned,
            "disagreements": self.disagreements,
        }


@dataclass(frozen=True)
class Settings:
    """Every knob, derived from beta (larger beta: wider, deeper, harder to satisfy)."""

    initial_branches: int
    max_branches: int
    max_rounds: int
    threshold: float
    min_finished: int
    patience: int
    window: int
    widen_by: int

    @classmethod
    def from_beta(cls, beta: float) -> "Settings":
        b = min(1.0, max(0.0, float(beta)))
        return cls(
            initial_branches=max(2, int(round(2 + 6 * b))),
            max_branches=max(4, int(round(4 + 44 * b))),
            max_rounds=int(round(40 + 200 * b)),
            threshold=round(0.80 + 0.18 * b, 4),
            min_finished=max(2, int(round(2 + 4 * b))),
            patience=max(2, int(round(2 + 8 * b))),
            window=max(2, int(round(2 + 4 * b))),
            widen_by=max(1, int(round(1 + 2 * b))),
        )


class VoteBook:
    """Votes of finished branches and of the latest probes, with a confidence estimate."""

    def __init__(self) -> None:
        self.final_votes: Counter = Counter()
        self.probe_votes: Counter = Counter()

    def record_final(self, answer: Optional[str]) -> None:
        if isinstance(answer, str) and answer != "ERR":
            self.final_votes[answer] += 1

    def refresh_probes(self, branches: List[BranchState]) -> None:
        self.probe_votes = Counter(
            b.latest for b in branches if b.active and b.latest is not None and b.latest != "ERR"
        )

    def leader(self) -> Tuple[Optional[str], int, int]:
        ranked = self.final_votes.most_common(2)
        if not ranked:
            return None, 0, 0
        top1 = ranked[0][1]
        top2 = ranked[1][1] if len(ranked) > 1 else 0
        return ranked[0][0], top1, top2

    def confidence(self) -> float:
        _, top1, top2 = self.leader()
        if top1 == 0:
            return 0.0
        return float(beta_confidence(top1, top2))

    def summary(self) -> Dict[str, Any]:
        leader, top1, top2 = self.leader()
        return {
            "leader": leader,
            "top1": top1,
            "top2": top2,
            "final_votes": dict(self.final_votes),
            "probe_votes": dict(self.probe_votes),
        }


class ConsensusTracker(Controller):
    name = "llm-consensus-tracker"

    def __init__(self, beta: float = 0.5) -> None:
        if not isinstance(beta, (int, float)):
            raise TypeError(f"beta must be a number, got {type(beta).__name__}")
        self.beta = float(beta)
        self.settings = Settings.from_beta(self.beta)

    def params(self) -> Dict[str, Any]:
        return {"beta": self.beta, "max_branches": self.settings.max_branches}

    # -- helpers ---------------------------------------------------------------------
    def _open_branch(self, session: Session, branches: List[BranchState], votes: VoteBook) -> bool:
        """Open one more branch; False when none is left or the cap is reached."""
        if len(branches) >= self.settings.max_branches:
            return False
        try:
            answer, slot, finished = session.probe_new()
        except NoMoreBranches:
            return False
        state = BranchState(slot=slot)
        state.answers.append(answer)
        if finished:
            state.finished = True
            votes.record_final(answer)
        branches.append(state)
        return True

    def _advance(self, session: Session, branch: BranchState, votes: VoteBook) -> None:
        if not branch.active:
            return
        answer, finished = session.probe_more(branch.slot)
        if not isinstance(answer, str):
            raise ValueError(f"unexpected probe answer {answer!r}")
        branch.answers.append(answer)
        if finished:
            branch.finished = True
            votes.record_final(answer)

    def _log(
        self,
        session: Session,
        history: List[Dict[str, Any]],
        event: str,
        step: int,
        branches: List[BranchState],
        votes: VoteBook,
        decision: str,
    ) -> None:
        record = {
            "event": event,
            "step": step,
            "tokens": session.tokens_used,
            "opened": session.branches_opened,
            "votes": votes.summary(),
            "branches": [b.to_dict() for b in branches],
            "confidence": round(votes.confidence(), 6),
        }
        history.append(record)
        session.trace(
            event,
            goal="reach a confident majority cheaply",
            input={"step": step, "opened": record["opened"]},
            output=record["votes"],
            state={"branches": record["branches"]},
            decision=decision,
        )

    # -- the episode -----------------------------------------------------------------
    def solve(self, session: Session) -> Optional[str]:
        s = self.settings
        branches: List[BranchState] = []
        votes = VoteBook()
        history: List[Dict[str, Any]] = []
        for _ in range(s.initial_branches):
            if not self._open_branch(session, branches, votes):
                break
        if not branches:
            return None
        try:
            for step in range(s.max_rounds):
                self._round(session, step, branches, votes, history)
        except ConsensusReached as done:
            self._log(session, history, "finish", len(history), branches, votes, done.reason)
            return done.answer
        leader, _, _ = votes.leader()
        if leader is not None:
            return leader
        probe_leader = votes.probe_votes.most_common(1)
        return probe_leader[0][0] if probe_leader else branches[0].latest

    def _round(
        self,
        session: Session,
        step: int,
        branches: List[BranchState],
        votes: VoteBook,
        history: List[Dict[str, Any]],
    ) -> None:
        s = self.settings
        leader, top1, top2 = votes.leader()
        active = [b for b in branches if b.active]
        # Deepen the most stable branches first: they are closest to finishing.
        for branch in sorted(active, key=lambda b: (-b.stability(s.window), b.slot)):
            self._advance(session, branch, votes)
        votes.refresh_probes(branches)
        leader, top1, top2 = votes.leader()
        confidence = votes.confidence()
        finished = sum(1 for b in branches if b.finished)
        decision = (
            f"leader={leader} ({top1} vs {top2}), confidence {confidence:.3f}, "
            f"{finished} finished of {len(branches)}"
        )
        self._log(session, history, "round", step, branches, votes, decision)
        if finished >= s.min_finished and confidence >= s.threshold:
            raise ConsensusReached(leader, f"confident: {confidence:.3f} >= {s.threshold}")
        if leader is not None:
            for branch in branches:
                if not branch.active:
                    continue
                if branch.latest != leader and branch.stability(s.window) >= 1.0:
                    branch.disagreements += 1
                else:
                    branch.disagreements = 0
                if branch.disagreements >= s.patience and len(active) > 2:
                    branch.pruned = True
        if not any(b.active for b in branches):
            if not self._widen(session, branches, votes):
                raise ConsensusReached(leader, "exhausted")
        elif confidence < s.threshold and step % s.window == s.window - 1:
            self._widen(session, branches, votes)

    def _widen(self, session: Session, branches: List[BranchState], votes: VoteBook) -> bool:
        opened = False
        for _ in range(self.settings.widen_by):
            opened = self._open_branch(session, branches, votes) or opened
        return opened
