"""Scaling curves on the search set: jobs, points and the aggregate a run optimises.

A *point* is one (data file, β) evaluation with the keys of an ``autotts table
--json`` row plus ``beta`` and ``accuracy_ci95``. The *aggregate* at a β is the
mean over search files of accuracy and tokens: what selection compares.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from autotts.controllers.registry import ControllerSpec
from autotts.discovery.records import AggregatePoint
from autotts.evaluation.executors import JobExecutor, run_jobs
from autotts.evaluation.jobs import DataRef, EvalJob
from autotts.evaluation.protocols import EvaluationProtocol
from autotts.evaluation.results import EvalResult

__all__ = [
    "BASELINE_CONTROLLERS",
    "aggregate",
    "aggregate_json",
    "best_point",
    "curve_jobs",
    "evaluate_curves",
    "point_from_result",
]

#: Hand-crafted controllers whose β curves every run records in baselines.json.
BASELINE_CONTROLLERS = ("sc", "asc", "esc", "parallel-probe", "cmc")


def curve_jobs(
    controller: str,
    refs: Sequence[DataRef],
    betas: Sequence[float],
    protocol: EvaluationProtocol,
    label: str = "",
    interpreter: str = "cpython",
) -> list[EvalJob]:
    """One job per (β, file), β outermost."""
    return [
        EvalJob(
            ref,
            ControllerSpec(controller, beta),
            protocol,
            label=label or controller,
            interpreter=interpreter,
        )
        for beta in betas
        for ref in refs
    ]


def point_from_result(result: EvalResult, beta: float | None) -> dict[str, Any]:
    """A point; a controller file's also says how its cells were audited (the seeds of
    their shadows, drawn by the evaluator: see :mod:`autotts.evaluation.audit`), under
    ``audit``, which a run directory keeps apart from its curves (``audits.json``)."""
    m = result.metrics
    point = {
        "model": result.data["model"],
        "benchmark": result.data["benchmark"],
        "beta": beta,
        "accuracy": m.accuracy,
        "accuracy_ci95": list(m.accuracy_ci95),
        "tokens": m.tokens,
        "seq_tokens": m.seq_tokens,
    }
    if "audit" in result.controller:
        point["audit"] = result.controller["audit"]
    return point


def evaluate_curves(
    jobs: Sequence[EvalJob],
    *,
    workers: int = 1,
    on_done: Callable[[int, EvalResult], None] | None = None,
    executor: JobExecutor | None = None,
) -> list[dict[str, Any]]:
    """Run curve jobs (see :func:`curve_jobs`) on ``executor`` (default: ``workers`` local
    processes) and return their points in job order."""
    results = run_jobs(jobs, workers=workers, on_done=on_done, executor=executor)
    return [point_from_result(r, job.spec.beta) for job, r in zip(jobs, results)]


def aggregate(points: Sequence[dict[str, Any]]) -> list[AggregatePoint]:
    """Per β (in first-seen order): mean accuracy, tokens and seq_tokens over the files."""
    by_beta: dict[float, list[dict[str, Any]]] = {}
    for point in points:
        by_beta.setdefault(point["beta"], []).append(point)
    out = []
    for beta, group in by_beta.items():
        n = len(group)
        out.append(
            AggregatePoint(
                beta=beta,
                accuracy=sum(p["accuracy"] for p in group) / n,
                tokens=sum(p["tokens"] for p in group) / n,
                seq_tokens=sum(p["seq_tokens"] for p in group) / n,
                files=n,
            )
        )
    return out


def aggregate_json(agg: Sequence[AggregatePoint]) -> list[dict[str, Any]]:
    """``agg`` as the files hold it."""
    return [a.to_dict() for a in agg]


def best_point(agg: Sequence[AggregatePoint]) -> AggregatePoint | None:
    """The aggregate point with the best accuracy; ties go to fewer tokens, then lower β."""
    if not agg:
        return None
    return min(agg, key=lambda a: (-round(a.accuracy, 9), a.tokens, _beta_key(a.beta)))


def _beta_key(beta: float | None) -> float:
    # --no-beta curves have one point, so a missing β never meets another in a tie
    return -1.0 if beta is None else beta
