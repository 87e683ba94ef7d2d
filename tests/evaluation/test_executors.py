"""The one executor protocol: traced jobs go to the executor given whatever its class;
a local pool stops at once."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Sequence

import pytest

from autotts.controllers.registry import ControllerSpec
from autotts.data.catalog import SYNTHETIC
from autotts.evaluation.cells import Cell
from autotts.evaluation.executors import (
    CellStream,
    JobExecutor,
    LocalExecutor,
    traced_records,
)
from autotts.evaluation.jobs import DataRef, EvalJob
from autotts.evaluation.pool import process_pool, start_pool_process, stop_pool
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.results import EvalResult
from autotts.evaluation.runner import EpisodeRecord

JOB = EvalJob(
    DataRef(SYNTHETIC, "Synth-Small", "aime24"), ControllerSpec("sc", 0.5), ReferenceProtocol(2)
)


class _Elsewhere:
    """Not a RayExecutor: only the methods of the protocol."""

    def __init__(self) -> None:
        self.asked: list[EvalJob] = []

    def run(self, jobs: Sequence[EvalJob], record: Callable[[int, EvalResult], None]) -> None:
        raise AssertionError("a traced job is not run as a plain job")

    def stream_cells(self, jobs: Sequence[EvalJob], cells: Sequence[Cell]) -> CellStream:
        raise AssertionError("a traced job is not run as cells")

    def traced(self, job: EvalJob) -> list[EpisodeRecord]:
        self.asked.append(job)
        return []


def test_the_executor_given_traces_the_job() -> None:
    executor = _Elsewhere()
    assert traced_records(JOB, executor) == []
    assert executor.asked == [JOB]


def test_without_one_the_job_is_traced_here() -> None:
    records = traced_records(JOB)
    # every episode (2 seeds x 30 questions), each with its trace
    assert len(records) == 60
    assert {(r.replicate, r.question) for r in records} == {
        (r, q) for r in range(2) for q in range(30)
    }
    assert all(record.trace for record in records)


@pytest.mark.parametrize("kind", ["local", "ray"])
def test_every_executor_implements_the_one_protocol(kind: str) -> None:
    """Every method of :class:`JobExecutor`, taking its parameters by the same names (mypy
    checks the types where the CLI hands a RayExecutor on; no cluster is started here)."""
    from autotts.scale import RayExecutor  # the scale package imports Ray only when used

    cls = LocalExecutor if kind == "local" else RayExecutor
    for name in ("run", "stream_cells", "traced"):
        wanted = list(inspect.signature(getattr(JobExecutor, name)).parameters)
        given = list(inspect.signature(getattr(cls, name)).parameters)
        assert given[: len(wanted)] == wanted, (kind, name)


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
