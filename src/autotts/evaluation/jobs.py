"""Evaluation jobs and the local multi-process executor.

A job names its data by reference (store folder + model + benchmark), not by
value, so it is cheap to send to a worker process; each process loads a replay
file once and keeps it. Results come back in job order whatever the number of
workers, so output never depends on ``--workers``.
"""

from __future__ import annotations

import concurrent.futures as futures
import contextlib
import multiprocessing
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Protocol, runtime_checkable

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
from autotts.evaluation.keeping import keep_for_process_life, keeping_workers
from autotts.evaluation.protocols import EvaluationProtocol
from autotts.evaluation.results import EvalResult, summarise
from autotts.evaluation.runner import EpisodeRecord, TraceSink, run_episodes

__all__ = [
    "DataRef",
    "EvalJob",
    "JobExecutor",
    "JobsInterrupted",
    "TracingExecutor",
    "current_executor",
    "evaluate",
    "load_data",
    "run_jobs",
    "runs_in_sandbox",
    "traced_records",
    "use_executor",
]


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


class JobsInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`run_jobs`; ``finished`` maps job index to its result so far."""

    def __init__(self, finished: dict[int, EvalResult]) -> None:
        super().__init__(f"{len(finished)} jobs finished before the interrupt")
        self.finished = finished


def _ignore_sigint() -> None:
    # Workers leave Ctrl-C to the parent, which cancels them; otherwise every worker
    # would print its own KeyboardInterrupt traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class JobExecutor(Protocol):
    """Another place to run jobs (e.g. :class:`autotts.scale.RayExecutor`)."""

    def run(self, jobs: Sequence[EvalJob], record: Callable[[int, EvalResult], None]) -> None:
        """Run every job; call ``record(index, result)`` exactly once per job as it finishes."""
        ...


@runtime_checkable
class TracingExecutor(JobExecutor, Protocol):
    """An executor that also runs a traced job, every episode's record with its trace
    (e.g. :class:`autotts.scale.RayExecutor`: the digests of ``discover --executor ray``)."""

    def traced(self, job: EvalJob) -> list[EpisodeRecord]:
        """Every episode record of ``job``, in episode order, traces included."""
        ...


_executors: list[JobExecutor] = []


def current_executor() -> JobExecutor | None:
    """The executor :func:`use_executor` set for this block, if any (None: local processes)."""
    return _executors[-1] if _executors else None


@contextmanager
def use_executor(executor: JobExecutor | None) -> Iterator[None]:
    """Within the block, :func:`run_jobs` calls without an ``executor`` use this one (None:
    the local processes), so callers deep in a library (discovery) need no new argument."""
    if executor is None:
        yield
        return
    _executors.append(executor)
    try:
        yield
    finally:
        _executors.remove(executor)


def traced_records(job: EvalJob) -> list[EpisodeRecord]:
    """Every episode record of ``job`` with its trace: on the executor :func:`use_executor`
    set for this block when it runs traced jobs (a :class:`TracingExecutor`), else here."""
    executor = current_executor()
    if isinstance(executor, TracingExecutor):
        return executor.traced(job)
    records: list[EpisodeRecord] = []
    evaluate(job, trace_sink=lambda _r, _q, record: records.append(record))
    return records


def run_jobs(
    jobs: Sequence[EvalJob],
    *,
    workers: int = 1,
    on_done: Callable[[int, EvalResult], None] | None = None,
    executor: JobExecutor | None = None,
) -> list[EvalResult]:
    """Run jobs on ``workers`` processes (1 = in this process), or on ``executor`` (default:
    the one set by :func:`use_executor`, if any); results in job order.

    On Ctrl-C, raises :class:`JobsInterrupted` carrying the results that finished.
    """
    if workers < 1:
        raise UsageError(f"--workers must be >= 1, got {workers}")
    finished: dict[int, EvalResult] = {}
    chosen = executor or current_executor()

    def record(i: int, result: EvalResult) -> None:
        finished[i] = result
        if on_done:
            on_done(i, result)

    keep = _keep_workers()  # cells of one candidate file share a sandboxed worker
    try:
        if chosen is not None:
            chosen.run(jobs, record)
        elif workers == 1 or len(jobs) <= 1:
            for i, job in enumerate(jobs):
                record(i, evaluate(job))
        else:
            _run_pool(jobs, min(workers, len(jobs)), record)
    except KeyboardInterrupt:
        raise JobsInterrupted(finished) from None
    finally:
        keep.close()
    return [finished[i] for i in range(len(jobs))]


def _keep_workers() -> contextlib.ExitStack:
    stack = contextlib.ExitStack()
    stack.enter_context(keeping_workers())
    return stack


def process_pool(workers: int, initializer: Callable[[], None]) -> futures.ProcessPoolExecutor:
    """A pool of ``workers`` local processes, each started with ``initializer``.

    Forked, which is quickest, unless this process is connected to a Ray cluster: a
    fork of a Ray driver (with its gRPC threads and channels) could leave the driver's
    later tasks waiting forever — a local race run just after a Ray run of a rejected
    file hung the next Ray race in ``ray.wait`` (``pytest tests/scale/test_ray.py -k
    "hostile or racing"``: every run tried while the driver cancelled the rejected
    file's cells, 1 of 9 once it no longer cancelled), with the cluster idle. Then the
    processes come from a fork server, a fresh interpreter that Ray never touched.
    """
    ray = sys.modules.get("ray")
    connected = ray is not None and getattr(ray, "is_initialized", lambda: False)()
    context = multiprocessing.get_context("forkserver") if connected else None
    return futures.ProcessPoolExecutor(
        max_workers=workers, initializer=initializer, mp_context=context
    )


def stop_pool(pool: futures.ProcessPoolExecutor) -> None:
    """Stop ``pool`` now: cancel what has not started, terminate the processes running
    jobs (a running job cannot be cancelled), and wait for its manager thread.

    That thread is taken before ``shutdown()``, which forgets it. Left running, it closes
    its wake-up pipe while the interpreter's exit hook writes to it, a race in
    ``concurrent.futures`` that prints "OSError: Bad file descriptor" after
    "interrupted" (seen in CI with ``--workers 2``)."""
    running = list((getattr(pool, "_processes", None) or {}).values())
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for process in running:
        process.terminate()
    for process in running:
        process.join(timeout=5)
    if isinstance(manager, threading.Thread):
        manager.join(timeout=10)


def start_pool_process() -> None:
    """Initializer of a pool process: leave Ctrl-C to the parent, keep sandboxed workers."""
    _ignore_sigint()
    keep_for_process_life()


def expected_cost(job: EvalJob) -> float:
    """A rough relative cost of ``job``, to start the longest jobs first.

    Episodes (replicates) scale it; a larger β spends more reads on every built-in and
    on any β-monotone candidate; a controller file runs episode by episode, in a
    sandbox, about ten times slower than a vectorised built-in.
    """
    beta = job.spec.beta if job.spec.beta is not None else 0.5
    return (
        job.protocol.replicates * (1.0 + 3.0 * beta) * (10.0 if runs_in_sandbox(job.spec) else 1.0)
    )


def _run_pool(
    jobs: Sequence[EvalJob], workers: int, record: Callable[[int, EvalResult], None]
) -> None:
    pool = process_pool(workers, start_pool_process)
    try:
        # Longest first, so the processes finish together instead of one of them ending
        # with a slow cell while the other idles; results are still recorded by index.
        # (The pool feeds processes in submission order.)
        order = sorted(range(len(jobs)), key=lambda i: -expected_cost(jobs[i]))
        pending = {pool.submit(evaluate, jobs[i]): i for i in order}
        for future in futures.as_completed(pending):
            record(pending[future], future.result())
    except BaseException:
        # A running job cannot be cancelled; its worker is stopped instead, so Ctrl-C
        # returns at once rather than after the longest job in flight.
        stop_pool(pool)
        raise
    pool.shutdown()
