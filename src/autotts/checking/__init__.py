"""Checking candidate controllers: the acceptance pipeline above the evaluator.

``check_controller(reference, data)`` runs a controller file through the sandbox
and returns a :class:`CheckReport` (verdict, reason code, detail, every check).
"""

from autotts.checking.pipeline import (
    DEFAULT_BETAS,
    DEFAULT_SEEDS,
    MONOTONE_TOLERANCE,
    check_controller,
)
from autotts.checking.report import REJECTION_REASONS, CheckReport, CheckResult

__all__ = [
    "DEFAULT_BETAS",
    "DEFAULT_SEEDS",
    "MONOTONE_TOLERANCE",
    "REJECTION_REASONS",
    "CheckReport",
    "CheckResult",
    "check_controller",
]
