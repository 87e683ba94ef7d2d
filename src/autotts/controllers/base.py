"""The controller interface.

A controller is a policy for one question: it reads branches through a
:class:`~autotts.env.session.Session` and returns an answer (or ``None``). It does
no I/O, reads no clock and keeps no state between questions beyond its own
parameters. Its only knob is β ∈ [0, 1]; a controller maps β to every internal
hyper-parameter through one named schedule function, so that sweeping β traces an
accuracy-vs-tokens curve. The smallest complete controller::

    from autotts import Controller, Session, majority

    class FirstFour(Controller):
        name = "first-four"

        def __init__(self, beta: float = 0.5):
            self.beta = beta
            self.n = max(1, round(1 + 7 * beta))   # the β schedule

        def solve(self, session: Session) -> str | None:
            answers = []
            for _ in range(self.n):
                if not session.can_branch:
                    break
                answers.append(session.full_read())
            return majority(answers)

Built-in controllers may also provide a vectorised implementation that replays
many episodes at once; the evaluator uses it when no traces are requested, and the
test suite checks it returns exactly what :meth:`Controller.solve` returns.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from autotts.env.batch import BatchOutcome, EpisodeBatch
    from autotts.env.session import Session

__all__ = ["Controller", "VectorisedRun"]

#: A vectorised controller: replays every episode of a batch at once.
VectorisedRun = Callable[["EpisodeBatch"], "BatchOutcome"]


class Controller(ABC):
    """Base class of every controller; subclasses implement :meth:`solve`."""

    #: Short name used in results and traces.
    name: ClassVar[str] = "controller"

    @abstractmethod
    def solve(self, session: Session) -> str | None:
        """Solve one question through ``session``; return the answer or ``None``."""

    def params(self) -> dict[str, Any]:
        """The parameters that fully determine this controller (recorded in results)."""
        return {
            key: value
            for key, value in vars(self).items()
            if not key.startswith("_") and isinstance(value, (int, float, str, bool, type(None)))
        }

    def vectorised(self) -> VectorisedRun | None:
        """A batch implementation equivalent to :meth:`solve`, or ``None`` if there is none."""
        return None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"
