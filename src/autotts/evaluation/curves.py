"""Scaling curves: every β-scheduled built-in over a β grid, on every file of a store.

The published table fixes one setting per method; a curve sweeps the method's
single knob β instead, so accuracy can be read against tokens across budgets
(``autotts table --plot`` draws both, the table's settings marked on the curves).
"""

from __future__ import annotations

from collections.abc import Sequence

from autotts.controllers.registry import ControllerSpec
from autotts.evaluation.jobs import DataRef, EvalJob
from autotts.evaluation.protocols import EvaluationProtocol
from autotts.evaluation.table import TABLE_METHODS

__all__ = ["CURVE_METHODS", "curve_jobs", "curve_of"]

#: Curve label -> registered controller, in the table's order.
CURVE_METHODS: dict[str, str] = {
    "SC": "sc",
    "ASC": "asc",
    "ESC": "esc",
    "Parallel-Probe": "parallel-probe",
    "CMC": "cmc",
}


def curve_of(table_method: str) -> str:
    """The curve a table row lies on: ``"CMC β=0.5"`` -> ``"CMC"``, ``"SC@64"`` -> ``"SC"``."""
    name = TABLE_METHODS[table_method].name
    return next(label for label, controller in CURVE_METHODS.items() if controller == name)


def curve_jobs(
    files: Sequence[DataRef], protocol: EvaluationProtocol, betas: Sequence[float]
) -> list[EvalJob]:
    """One job per (file, curve method, β); the job's label is the curve's."""
    return [
        EvalJob(data=ref, spec=ControllerSpec(name, beta=beta), protocol=protocol, label=label)
        for ref in files
        for label, name in CURVE_METHODS.items()
        for beta in betas
    ]
