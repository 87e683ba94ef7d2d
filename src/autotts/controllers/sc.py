"""SC@n — self-consistency: full-read ``n`` branches, return the majority answer."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from autotts.controllers.base import Controller, VectorisedRun
from autotts.controllers.composable.plain import Knobs
from autotts.controllers.schedules import budget_schedule
from autotts.controllers.stopping import record_stop, show
from autotts.controllers.voting import majority
from autotts.errors import UsageError

if TYPE_CHECKING:
    from autotts.env.session import Session

__all__ = ["FULL_READS", "SelfConsistency", "sc_knobs"]

#: What SC, ASC and ESC share as composable parts: a branch is read to its end when it
#: is opened, nothing is pruned, the finished answers are voted, from the first round.
FULL_READS = Knobs(depth="full", prune="never", vote="completed", warm_up=0)


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
        """The composable kernel on :func:`sc_knobs` of this controller."""
        # NumPy: the kernel needs it; the plain controller stays importable without it (PyPy's
        # worker, no NumPy)
        from autotts.controllers.composable.vectorised import run_parts

        knobs = sc_knobs(self)
        return lambda batch: run_parts(batch, knobs)


def sc_knobs(sc: SelfConsistency) -> Knobs:
    """SC with ``sc``'s settings as composable parts: open ``n`` branches at once, read
    each to its end, vote; the composed controller with these knobs returns exactly what
    :meth:`SelfConsistency.solve` returns."""
    return replace(FULL_READS, widen="never", stop="never", n_init=sc.n, max_branches=sc.n)
