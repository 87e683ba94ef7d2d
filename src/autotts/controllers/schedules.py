"""β schedules: the one place where a controller's single knob becomes its settings.

For the hand-crafted baselines β scales the sample/branch budget geometrically
from 1 (β = 0) to 64 (β = 1), the setting of the published table; every other
setting stays at its published value. CMC's schedule is its own
(:func:`autotts.controllers.cmc.cmc_schedule`).
"""

from __future__ import annotations

from autotts.errors import UsageError

__all__ = ["MAX_BRANCHES", "budget_schedule", "check_beta"]

#: The branch ceiling of every published setting.
MAX_BRANCHES = 64


def check_beta(beta: float) -> float:
    """Validate β; return it as a float."""
    try:
        value = float(beta)
    except (TypeError, ValueError):
        raise UsageError(f"beta must be a number in [0, 1], got {beta!r}") from None
    if not 0.0 <= value <= 1.0:
        raise UsageError(f"beta must be in [0, 1], got {value:g}")
    return value


def budget_schedule(beta: float) -> int:
    """Samples/branches for a baseline at β: ``round(64**β)``, i.e. 1 → 64, log-uniform."""
    budget: float = float(MAX_BRANCHES) ** check_beta(beta)
    return max(1, min(MAX_BRANCHES, round(budget)))
