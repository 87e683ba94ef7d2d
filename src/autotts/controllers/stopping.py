"""How built-in controllers say why they stopped, in their execution traces.

A controller that records a ``finish`` step hands its fields to the evaluator's
own ``finish`` step (see :mod:`autotts.evaluation.runner`): ``stop_reason`` is a
short category that summaries group episodes by (``confident``, ``pool
exhausted``, ...), the decision text says what was decided with the values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from autotts.env.session import Session

__all__ = ["record_stop", "show"]


def record_stop(session: Session, reason: str, decision: str) -> None:
    """Record why the episode stops (no-op unless tracing)."""
    if session.tracing:
        session.trace("finish", goal="stop", output={"stop_reason": reason}, decision=decision)


def show(answer: str | None) -> str:
    """An answer as decision texts quote it (``'17'``, or ``none``)."""
    return "none" if answer is None else repr(answer)
