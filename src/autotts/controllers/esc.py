"""ESC — early-stopping self-consistency: read windows of answers, stop on a unanimous window."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from autotts.controllers.base import Controller, VectorisedRun
from autotts.controllers.composable.plain import Knobs
from autotts.controllers.sc import FULL_READS
from autotts.controllers.schedules import budget_schedule
from autotts.controllers.stopping import record_stop, show
from autotts.controllers.voting import majority
from autotts.errors import UsageError

if TYPE_CHECKING:
    from autotts.env.session import Session

__all__ = ["EarlyStoppingConsistency", "esc_knobs"]


class EarlyStoppingConsistency(Controller):
    name = "esc"

    def __init__(self, max_samples: int = 64, window_size: int = 8) -> None:
        if max_samples < 1:
            raise UsageError(f"esc: max_samples must be >= 1, got {max_samples}")
        if window_size < 1:
            raise UsageError(f"esc: window_size must be >= 1, got {window_size}")
        self.max_samples = max_samples
        self.window_size = window_size

    @classmethod
    def from_beta(cls, beta: float) -> EarlyStoppingConsistency:
        # Below one full window the budget is read as a single window.
        samples = budget_schedule(beta)
        return cls(max_samples=samples, window_size=min(8, samples))

    def solve(self, session: Session) -> str | None:
        answers: list[str] = []
        for _ in range(self.max_samples // self.window_size):
            window: list[str] = []
            for _ in range(self.window_size):
                if not session.can_branch:
                    break
                window.append(session.full_read())
            if not window:
                continue
            answers.extend(window)
            unanimous = len(set(window)) == 1
            if session.tracing:
                session.trace(
                    "window",
                    goal="stop on a unanimous window",
                    input={"window": window},
                    output={"unanimous": unanimous, "n_answers": len(answers)},
                    decision=f"stop: window unanimous on {show(window[0])}"
                    if unanimous
                    else f"continue: window has {len(set(window))} distinct answers",
                )
            if unanimous:
                record_stop(
                    session,
                    "unanimous window",
                    f"answer {show(window[0])}: {len(window)} reads in a window agree",
                )
                return window[0]
        winner = majority(answers)
        reason = "max samples" if session.can_branch else "pool exhausted"
        record_stop(session, reason, f"answer {show(winner)}: majority of {len(answers)} reads")
        return winner

    def vectorised(self) -> VectorisedRun:
        """The composable kernel on :func:`esc_knobs` of this controller."""
        # NumPy: the kernel needs it; the plain controller stays importable without it (PyPy's
        # worker, no NumPy)
        from autotts.controllers.composable.vectorised import run_parts

        knobs = esc_knobs(self)
        return lambda batch: run_parts(batch, knobs)


def esc_knobs(esc: EarlyStoppingConsistency) -> Knobs:
    """ESC with ``esc``'s settings as composable parts: windows of ``window_size`` full
    reads, at most ``max_samples // window_size`` of them, stopping on a unanimous window;
    the composed controller with these knobs returns exactly what
    :meth:`EarlyStoppingConsistency.solve` returns."""
    w = esc.window_size
    return replace(
        FULL_READS, widen="always", widen_burst=w, stop="window", n_init=w,
        max_branches=(esc.max_samples // w) * w,
    )  # fmt: skip
