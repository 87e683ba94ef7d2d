"""Where evaluation jobs run, chosen in one place.

Two entry points choose the path; nothing above them (the CLI, discovery) does:

- :func:`evaluate_job` runs one job: with a trace sink, in this process (the traces
  are written here); on the executor when one is given; split into cells over a local
  pool for ``workers > 1``; else in this process.
- :func:`run_jobs` runs several jobs on an executor: the one given, else a
  :class:`LocalExecutor` of ``workers`` processes. It calls ``executor.run(jobs,
  record)`` whatever the executor is.

The executor is an object passed down by whoever opened it (the command, or a caller of
:func:`autotts.discover`); no module state chooses it.

Every executor implements the one protocol, :class:`JobExecutor`: run whole jobs, stream
cells (blocks of replicates, :mod:`~autotts.evaluation.cells`) as they finish, and run a
traced job. :class:`LocalExecutor` is this machine's; :class:`autotts.scale.RayExecutor`
is a cluster's. Whether a controller file runs sandboxed is the job's own business
(:func:`~autotts.evaluation.jobs.runs_in_sandbox`), the same on every executor.

Results come back in job order whatever the executor or the number of workers, so
output never depends on ``--workers`` or ``--executor``.
"""

from __future__ import annotations

import concurrent.futures as futures
import contextlib
import itertools
from collections.abc import Callable, Generator, Sequence
from typing import Protocol

from autotts.errors import UsageError
from autotts.evaluation.cells import Cell, CellResult, combine, evaluate_cell
from autotts.evaluation.jobs import EvalJob, evaluate, load_data, runs_in_sandbox
from autotts.evaluation.keeping import keeping_workers
from autotts.evaluation.pool import process_pool, start_pool_process, stop_pool
from autotts.evaluation.results import EvalResult
from autotts.evaluation.runner import EpisodeRecord, TraceSink

__all__ = [
    "CellStream",
    "JobExecutor",
    "JobsInterrupted",
    "LocalExecutor",
    "evaluate_job",
    "evaluate_split",
    "expected_cost",
    "run_jobs",
    "traced_records",
]

#: cells with their results, each once, as they finish; closing it starts no more cells
CellStream = Generator[tuple[Cell, CellResult], None, None]


class JobExecutor(Protocol):
    """A place to run jobs: this machine (:class:`LocalExecutor`) or a Ray cluster
    (:class:`autotts.scale.RayExecutor`)."""

    def run(self, jobs: Sequence[EvalJob], record: Callable[[int, EvalResult], None]) -> None:
        """Run every job; call ``record(index, result)`` exactly once per job as it finishes."""
        ...

    def stream_cells(self, jobs: Sequence[EvalJob], cells: Sequence[Cell]) -> CellStream:
        """Run ``cells`` of ``jobs`` (started in the order given) and yield each once with
        its result as it finishes (racing reads blocks of seeds as they come in; a split
        ``eval`` stacks them). Closing the iterator early starts no more cells."""
        ...

    def traced(self, job: EvalJob) -> list[EpisodeRecord]:
        """Every episode record of ``job``, in episode order, traces included."""
        ...


class JobsInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`run_jobs`; ``finished`` maps job index to its result so far."""

    def __init__(self, finished: dict[int, EvalResult]) -> None:
        super().__init__(f"{len(finished)} jobs finished before the interrupt")
        self.finished = finished


class LocalExecutor:
    """This machine: ``workers`` processes, or this process alone when ``workers`` is 1.

    Whole jobs go to a pool (longest first) when there are several of them and more than
    one worker, else they run here one after the other; cells likewise. A pool's
    processes keep a controller file's sandboxed worker from job to job (as a Ray worker
    does); on Ctrl-C or an error the running ones are stopped at once.
    """

    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise UsageError(f"--workers must be >= 1, got {workers}")
        self.workers = workers

    def run(self, jobs: Sequence[EvalJob], record: Callable[[int, EvalResult], None]) -> None:
        if self.workers == 1 or len(jobs) <= 1:
            for i, job in enumerate(jobs):
                record(i, evaluate(job))
            return
        pool = process_pool(min(self.workers, len(jobs)), start_pool_process)
        try:
            # Longest first, so the processes finish together instead of one of them
            # ending with a slow cell while the other idles; results are still recorded
            # by index. (The pool feeds processes in submission order.)
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

    def stream_cells(self, jobs: Sequence[EvalJob], cells: Sequence[Cell]) -> CellStream:
        if self.workers == 1:
            # Cells of one controller file share its sandboxed worker until the stream ends.
            with keeping_workers():
                for cell in cells:
                    yield cell, _run_cell(jobs[cell.job], cell.start, cell.stop)
            return
        pool = process_pool(self.workers, start_pool_process)
        finished = False
        try:
            pending = {pool.submit(_run_cell, jobs[c.job], c.start, c.stop): c for c in cells}
            for future in futures.as_completed(pending):
                yield pending[future], future.result()
            finished = True
        finally:
            # Closed early (racing stopped), interrupted or failed: the cells in flight
            # are abandoned and their processes stopped, so this returns at once.
            if finished:
                pool.shutdown()
            else:
                stop_pool(pool)

    def traced(self, job: EvalJob) -> list[EpisodeRecord]:
        # Traces are large and go to one list: they are computed in this process.
        records: list[EpisodeRecord] = []
        evaluate(job, trace_sink=lambda _r, _q, record: records.append(record))
        return records


def _run_cell(job: EvalJob, start: int, stop: int) -> CellResult:
    """One cell in a pool process (or here), with the replay file loaded once per process."""
    return evaluate_cell(job, load_data(job.data), start, stop)


def run_jobs(
    jobs: Sequence[EvalJob],
    *,
    workers: int = 1,
    on_done: Callable[[int, EvalResult], None] | None = None,
    executor: JobExecutor | None = None,
) -> list[EvalResult]:
    """Run jobs on ``executor`` (default: a :class:`LocalExecutor` of ``workers``
    processes); results in job order.

    On Ctrl-C, raises :class:`JobsInterrupted` carrying the results that finished.
    """
    if workers < 1:
        raise UsageError(f"--workers must be >= 1, got {workers}")
    chosen = executor or LocalExecutor(workers)
    finished: dict[int, EvalResult] = {}

    def record(i: int, result: EvalResult) -> None:
        finished[i] = result
        if on_done:
            on_done(i, result)

    try:
        with keeping_workers():  # cells of one candidate file share a sandboxed worker
            chosen.run(jobs, record)
    except KeyboardInterrupt:
        raise JobsInterrupted(finished) from None
    return [finished[i] for i in range(len(jobs))]


def evaluate_job(
    job: EvalJob,
    *,
    workers: int = 1,
    executor: JobExecutor | None = None,
    progress: Callable[[int, int], None] | None = None,
    trace_sink: TraceSink | None = None,
) -> EvalResult:
    """Run one job where it should run; the same result on every path.

    With ``trace_sink``: in this process, which writes the traces (no executor then).
    With ``executor``: on it, through :func:`run_jobs` (its own progress reports cells).
    With ``workers > 1``: its replicates split over a local pool (:func:`evaluate_split`).
    Else in this process. ``progress(done, total)`` counts episodes on the local paths.
    A Ctrl-C on any path propagates as a ``KeyboardInterrupt``.
    """
    if workers < 1:
        raise UsageError(f"--workers must be >= 1, got {workers}")
    if trace_sink is not None:
        if executor is not None:
            raise UsageError("traces are written by this process: trace without an executor")
        return evaluate(job, trace_sink=trace_sink, progress=progress)
    if executor is not None:
        return run_jobs([job], executor=executor)[0]
    if workers > 1:
        return evaluate_split(job, workers, progress)
    return evaluate(job, progress=progress)


def evaluate_split(
    job: EvalJob,
    workers: int,
    progress: Callable[[int, int], None] | None = None,
) -> EvalResult:
    """:func:`~autotts.evaluation.jobs.evaluate` with its replicates split into cells over
    ``workers`` local processes; the same result (the cells' tables are stacked in
    replicate order and summarised once)."""
    replicates = job.protocol.replicates
    questions = len(load_data(job.data))
    # A few cells per worker, so that progress moves and the workers finish together.
    count = min(replicates, workers * 4)
    bounds = [round(i * replicates / count) for i in range(count + 1)]
    cells = [Cell(0, a, b) for a, b in itertools.pairwise(bounds) if b > a]
    parts: dict[int, CellResult] = {}
    done = 0
    with contextlib.closing(LocalExecutor(workers).stream_cells([job], cells)) as stream:
        for cell, part in stream:
            parts[cell.start] = part
            done += (cell.stop - cell.start) * questions
            if progress is not None:
                progress(done, replicates * questions)
    return combine(job, load_data(job.data), [parts[start] for start in sorted(parts)])


def traced_records(job: EvalJob, executor: JobExecutor | None = None) -> list[EpisodeRecord]:
    """Every episode record of ``job`` with its trace, on ``executor`` (default: this
    process)."""
    return (executor or LocalExecutor()).traced(job)


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
