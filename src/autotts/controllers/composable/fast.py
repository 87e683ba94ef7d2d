"""Composed controllers with the vectorised path attached."""

from __future__ import annotations

from collections.abc import Callable

from autotts.controllers.base import VectorisedRun
from autotts.controllers.composable.plain import Knobs, PartsController

__all__ = ["FastParts", "KnobsController"]


class FastParts(PartsController):
    """A :class:`PartsController` that the evaluator may replay a batch at a time."""

    def vectorised(self) -> VectorisedRun:
        # NumPy: the kernel needs it; the plain controller stays importable without it (PyPy's
        # worker, no NumPy)
        from autotts.controllers.composable.vectorised import run_parts

        knobs = self.knobs
        return lambda batch: run_parts(batch, knobs)


class KnobsController(FastParts):
    """A composed controller given directly by a β → :class:`Knobs` function."""

    name = "composed"

    def __init__(self, schedule: Callable[[float], Knobs], beta: float = 0.5) -> None:
        self._schedule = schedule
        super().__init__(beta)

    def knobs_at(self, beta: float) -> Knobs:
        return self._schedule(beta)
