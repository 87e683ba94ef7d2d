"""Evaluation jobs, and one job run in this process.

A job names its data by reference (store folder + model + benchmark), not by
value, so it is cheap to send to a worker process; each process loads a replay
file once and keeps it. Where jobs run (this process, local processes, Ray) is
chosen in one place, :mod:`autotts.evaluation.executors`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache

from autotts.controllers.registry import REGISTRY, ControllerSpec, build
from autotts.data.catalog import SYNTHETIC
from autotts.data.equivalence import ANSWER_MODES, canonicalise
from autotts.data.loading import load_replay
from autotts.data.records import ReplaySet
from autotts.data.refs import DataRef
from autotts.data.synthetic import synthetic_replay_sets
from autotts.env.limits import DEFAULT_MAX_STEPS
from autotts.errors import UnknownName, UsageError
from autotts.evaluation.file_cell import evaluate_sandboxed
from autotts.evaluation.protocols import EvaluationProtocol
from autotts.evaluation.results import EvalResult, summarise
from autotts.evaluation.runner import TraceSink, run_episodes

__all__ = ["DataRef", "EvalJob", "evaluate", "load_data", "runs_in_sandbox"]


@lru_cache(maxsize=32)
def load_data(ref: DataRef) -> ReplaySet:
    """Load (once per process) the replay file a reference names."""
    if ref.answers != "string":
        if ref.answers not in ANSWER_MODES:
            raise UnknownName("answer comparison", ref.answers, ANSWER_MODES)
        return canonicalise(load_data(replace(ref, answers="string")))
    if ref.store == SYNTHETIC:
        for replay in synthetic_replay_sets():
            if (replay.model, replay.benchmark) == (ref.model, ref.benchmark):
                return replay
        raise UsageError(f"the synthetic store has no {ref.model}/{ref.benchmark}")
    return load_replay(ref.path, model=ref.model, benchmark=ref.benchmark)


@dataclass(frozen=True)
class EvalJob:
    data: DataRef
    spec: ControllerSpec
    protocol: EvaluationProtocol
    label: str = ""
    #: session read calls one episode may make (episode-by-episode path)
    max_steps: int = DEFAULT_MAX_STEPS
    #: what runs a controller file's untraced cells: "cpython" or "pypy"
    #: (:mod:`autotts.evaluation.interpreters`)
    interpreter: str = "cpython"


def runs_in_sandbox(spec: ControllerSpec) -> bool:
    """Whether ``spec`` names a controller file that must not be imported in this process."""
    name = spec.name
    return name not in REGISTRY and (":" in name or name.endswith(".py")) and not spec.trusted


def evaluate(
    job: EvalJob,
    trace_sink: TraceSink | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> EvalResult:
    """Run one job in this process.

    A controller file (not built in, not ``spec.trusted``) runs in a sandboxed worker
    process (:mod:`autotts.evaluation.sandboxed`); its failures raise
    :class:`~autotts.errors.CandidateRejected` carrying a reason code.
    """
    replay = load_data(job.data)
    if runs_in_sandbox(job.spec):
        return evaluate_sandboxed(job, replay, trace_sink=trace_sink, progress=progress)
    controller = build(job.spec)
    table = run_episodes(
        controller,
        replay,
        job.protocol,
        trace_sink=trace_sink,
        progress=progress,
        max_steps=job.max_steps,
    )
    return EvalResult(
        label=job.label or job.spec.label(),
        controller=job.spec.to_dict(),
        params=controller.params(),
        data=replay.provenance(),
        protocol=job.protocol.to_dict(),
        metrics=summarise(table),
    )
