"""SC@n — self-consistency: full-read ``n`` branches, return the majority answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from autotts.controllers.base import Controller, VectorisedRun
from autotts.controllers.schedules import budget_schedule
from autotts.controllers.stopping import record_stop, show
from autotts.controllers.voting import majority
from autotts.errors import UsageError

if TYPE_CHECKING:
    from autotts.env.session import Session

__all__ = ["SelfConsistency"]


class SelfConsistency(Controller):
    name = "sc"

    def __init__(self, n: int = 64) -> None:
        if n < 1:
            raise UsageError(f"sc: n must be >= 1, got {n}")
        self.n = n

    @classmethod
    def from_beta(cls, beta: float) -> SelfConsistency:
        return cls(n=budget_schedule(beta))

    def solve(self, session: Session) -> str | None:
        answers: list[str] = []
        for _ in range(self.n):
            if not session.can_branch:
                break
            answers.append(session.full_read())
        winner = majority(answers)
        if session.tracing:
            session.trace(
                "vote",
                goal="majority of full reads",
                input={"answers": answers},
                output={"winner": winner},
                decision=f"answer {show(winner)}: {answers.count(winner) if winner else 0} of "
                f"{len(answers)} votes",
            )
        reason = "read n" if len(answers) == self.n else "pool exhausted"
        record_stop(session, reason, f"answer {show(winner)}: majority of {len(answers)} reads")
        return winner

    def vectorised(self) -> VectorisedRun:
        # NumPy: the kernel needs it; the plain controller stays importable without it (PyPy's
        # worker, no NumPy)
        from autotts.controllers.vectorised.sequential import run_self_consistency

        return lambda batch: run_self_consistency(batch, self.n)
