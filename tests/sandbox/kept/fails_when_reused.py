"""Crashes whenever its worker loaded it before: it leaves a mark in an imported module."""

import autotts
from autotts import Controller, Session

LOADS_BEFORE = getattr(autotts, "_kept_worker_test_loads", 0)
autotts._kept_worker_test_loads = LOADS_BEFORE + 1  # survives a fresh module in the same worker


class FailsWhenReused(Controller):
    name = "fails-when-reused"

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session: Session) -> str | None:
        if LOADS_BEFORE:
            raise RuntimeError("this worker ran the file before")
        answer, _branch, _finished = session.probe_new()
        return answer
