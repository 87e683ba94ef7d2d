"""Traced jobs go to the block's executor when it can run them, whatever its class."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from autotts.controllers.registry import ControllerSpec
from autotts.data.catalog import SYNTHETIC
from autotts.evaluation.jobs import (
    DataRef,
    EvalJob,
    TracingExecutor,
    process_pool,
    start_pool_process,
    stop_pool,
    traced_records,
    use_executor,
)
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.results import EvalResult
from autotts.evaluation.runner import EpisodeRecord

JOB = EvalJob(
    DataRef(SYNTHETIC, "Synth-Small", "aime24"), ControllerSpec("sc", 0.5), ReferenceProtocol(2)
)


class _Tracing:
    """Not a RayExecutor: only the two methods of the protocol."""

    def __init__(self) -> None:
        self.asked: list[EvalJob] = []

    def run(self, jobs: Sequence[EvalJob], record: Callable[[int, EvalResult], None]) -> None:
        raise AssertionError("a traced job is not run as a plain job")

    def traced(self, job: EvalJob) -> list[EpisodeRecord]:
        self.asked.append(job)
        return []


class _Plain:
    def run(self, jobs: Sequence[EvalJob], record: Callable[[int, EvalResult], None]) -> None:
        raise AssertionError("not used")


def test_a_tracing_executor_runs_the_traced_job() -> None:
    executor = _Tracing()
    assert isinstance(executor, TracingExecutor)
    with use_executor(executor):
        assert traced_records(JOB) == []
    assert executor.asked == [JOB]


def test_without_one_the_job_is_traced_here() -> None:
    assert not isinstance(_Plain(), TracingExecutor)
    for executor in (None, _Plain()):
        with use_executor(executor):
            records = traced_records(JOB)
        # every episode (2 seeds x 30 questions), each with its trace
        assert len(records) == 60
        assert {(r.replicate, r.question) for r in records} == {
            (r, q) for r in range(2) for q in range(30)
        }
        assert all(record.trace for record in records)


def test_the_ray_executor_is_one() -> None:
    """What discovery's digests rely on to trace on the cluster (checked by shape, as
    :func:`traced_records` asks; no cluster is started)."""
    from autotts.scale import RayExecutor  # the scale package imports Ray only when used

    assert issubclass(RayExecutor, TracingExecutor)


def _sleep_long() -> None:
    time.sleep(60)


def test_stopping_a_pool_ends_its_processes_and_its_manager_thread() -> None:
    """What Ctrl-C does to a local pool: the running job's process is terminated and the
    pool's manager thread has ended by the time ``stop_pool`` returns (a thread left
    running races the interpreter's exit hook: "Bad file descriptor" after "interrupted")."""
    pool = process_pool(2, start_pool_process)
    pool.submit(_sleep_long)
    time.sleep(1.0)  # the job is running
    processes = list(pool._processes.values())  # type: ignore[union-attr]
    manager = pool._executor_manager_thread  # type: ignore[attr-defined]
    assert manager is not None and manager.is_alive()
    started = time.monotonic()
    stop_pool(pool)
    assert time.monotonic() - started < 15
    assert not manager.is_alive()
    assert all(not p.is_alive() for p in processes)
