"""A controller file's cell, as every evaluation runs it: the file read once, played in
the sandbox on the interpreter :mod:`~autotts.evaluation.interpreters` picks, on the
kept workers of the open keeping block (:mod:`~autotts.evaluation.keeping`),
and audited (:mod:`~autotts.evaluation.audit`); and the record of how a result of it
was obtained.

:func:`~autotts.evaluation.jobs.evaluate` and every cell
(:mod:`~autotts.evaluation.cells`: a split ``eval``, racing, Ray) all come here, so a
cell of a file is run one way whatever orchestrates it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from autotts.data.records import ReplaySet
from autotts.evaluation import keeping
from autotts.evaluation.audit import run_audited
from autotts.evaluation.interpreters import interpreter_version
from autotts.evaluation.protocols import EvaluationProtocol
from autotts.evaluation.results import EvalResult, summarise
from autotts.evaluation.runner import TraceSink
from autotts.evaluation.sandboxed import SandboxRun
from autotts.sandbox import CandidateFile, read_candidate

if TYPE_CHECKING:
    from autotts.evaluation.jobs import EvalJob

__all__ = ["evaluate_sandboxed", "run_file_cell", "sandbox_record"]


def run_file_cell(
    job: EvalJob,
    replay: ReplaySet,
    protocol: EvaluationProtocol,
    *,
    candidate: CandidateFile | None = None,
    trace_sink: TraceSink | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[SandboxRun, dict[str, Any]]:
    """``job``'s controller file played on ``protocol``'s episodes of ``replay`` (``job``'s
    protocol or a slice of its replicates); the run and its audit's record.

    ``candidate`` is the file as read by the caller (a Ray cell gets its source sent,
    so the file need not exist where it runs); by default it is read here.
    """
    return run_audited(
        candidate if candidate is not None else read_candidate(job.spec.name),
        replay,
        protocol,
        beta=job.spec.beta,
        params=dict(job.spec.params),
        max_steps=job.max_steps,
        interpreter=job.interpreter,
        # The open keeping block's workers and interpreter rule (run_jobs and its pool
        # processes, a racing pool, a Ray worker): a candidate's cells share them.
        context=keeping.current(),
        trace_sink=trace_sink,
        progress=progress,
    )


def evaluate_sandboxed(
    job: EvalJob,
    replay: ReplaySet,
    *,
    trace_sink: TraceSink | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> EvalResult:
    """:func:`autotts.evaluation.jobs.evaluate` for a controller file run in the sandbox."""
    run, audit = run_file_cell(job, replay, job.protocol, trace_sink=trace_sink, progress=progress)
    return EvalResult(
        label=job.label or job.spec.label(),
        # Which isolation layers ran it, and its audit: part of how the number was obtained.
        controller={
            **job.spec.to_dict(),
            **sandbox_record(run.layers, run.interpreter),
            "audit": audit,
        },
        params=run.params,
        data=replay.provenance(),
        protocol=job.protocol.to_dict(),
        metrics=summarise(run.table),
    )


def sandbox_record(layers: list[str], interpreter: str) -> dict[str, Any]:
    """How a controller file's result was obtained, for its ``controller`` record: the
    isolation layers, the interpreter that ran it when it is not CPython, and its version
    (callers pass the run's own interpreter, so a PyPy cell that fell back to CPython
    says CPython)."""
    record: dict[str, Any] = {"sandbox": layers}
    if interpreter != "cpython":
        record["interpreter"] = interpreter
    record["interpreter_version"] = interpreter_version(interpreter)
    return record
