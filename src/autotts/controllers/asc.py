"""ASC — adaptive consistency: full-read until the Beta majority confidence clears a threshold."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from autotts.controllers.base import Controller, VectorisedRun
from autotts.controllers.composable.plain import Knobs
from autotts.controllers.sc import FULL_READS
from autotts.controllers.schedules import budget_schedule
from autotts.controllers.stopping import record_stop, show
from autotts.controllers.voting import beta_confidence, majority, vote_stats
from autotts.errors import UsageError

if TYPE_CHECKING:
    from autotts.env.session import Session

__all__ = ["AdaptiveConsistency", "asc_knobs"]


class AdaptiveConsistency(Controller):
    name = "asc"

    def __init__(self, max_samples: int = 64, threshold: float = 0.95) -> None:
        if max_samples < 1:
            raise UsageError(f"asc: max_samples must be >= 1, got {max_samples}")
        if not 0.0 <= threshold <= 1.0:
            raise UsageError(f"asc: threshold must be in [0, 1], got {threshold}")
        self.max_samples = max_samples
        self.threshold = threshold

    @classmethod
    def from_beta(cls, beta: float) -> AdaptiveConsistency:
        return cls(max_samples=budget_schedule(beta))

    def solve(self, session: Session) -> str | None:
        answers: list[str] = []
        for _ in range(self.max_samples):
            if not session.can_branch:
                break
            answers.append(session.full_read())
            if len(answers) < 2:
                continue
            winner, top1, top2 = vote_stats(answers)
            confidence = beta_confidence(top1, top2)
            if session.tracing:
                session.trace(
                    "confidence_check",
                    goal="stop once the leader is confidently the majority",
                    input={"n_answers": len(answers)},
                    output={"winner": winner, "top1": top1, "top2": top2, "confidence": confidence},
                    decision=(
                        f"stop: confidence {confidence:.3f} > {self.threshold} "
                        f"({top1} vs {top2} votes)"
                        if confidence > self.threshold
                        else f"continue: confidence {confidence:.3f} <= {self.threshold} "
                        f"({top1} vs {top2} votes)"
                    ),
                )
            if confidence > self.threshold:
                record_stop(
                    session,
                    "confident",
                    f"answer {show(winner)}: confidence {confidence:.3f} > {self.threshold} "
                    f"after {len(answers)} reads",
                )
                return winner
        winner = majority(answers)
        reason = "max samples" if len(answers) == self.max_samples else "pool exhausted"
        record_stop(session, reason, f"answer {show(winner)}: majority of {len(answers)} reads")
        return winner

    def vectorised(self) -> VectorisedRun:
        """The composable kernel on :func:`asc_knobs` of this controller."""
        # NumPy: the kernel needs it; the plain controller stays importable without it (PyPy's
        # worker, no NumPy)
        from autotts.controllers.composable.vectorised import run_parts

        knobs = asc_knobs(self)
        return lambda batch: run_parts(batch, knobs)


def asc_knobs(asc: AdaptiveConsistency) -> Knobs:
    """ASC with ``asc``'s settings as composable parts: one full read per round until the
    Beta confidence of two or more answers exceeds the threshold; the composed controller
    with these knobs returns exactly what :meth:`AdaptiveConsistency.solve` returns."""
    return replace(
        FULL_READS, widen="always", widen_burst=1, stop="confidence", conf_thresh=asc.threshold,
        n_init=1, max_branches=asc.max_samples,
    )  # fmt: skip
