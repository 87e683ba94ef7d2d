"""The evaluation entry points choose the path (the CLI does not): which one ran is
observed here, and every path gives the one-process result."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from autotts.cli.main import main
from autotts.controllers.registry import ControllerSpec
from autotts.data.catalog import SYNTHETIC
from autotts.errors import UsageError
from autotts.evaluation import executors
from autotts.evaluation.cells import Cell
from autotts.evaluation.executors import (
    CellStream,
    LocalExecutor,
    evaluate_job,
    evaluate_split,
    run_jobs,
)
from autotts.evaluation.jobs import DataRef, EvalJob, evaluate
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.results import EvalResult
from autotts.evaluation.runner import EpisodeRecord

REF = DataRef(SYNTHETIC, "Synth-Small", "aime24")
JOB = EvalJob(REF, ControllerSpec("cmc", 0.5), ReferenceProtocol(6))


class _Spy:
    """Records which LocalExecutor method ran, with how many workers and items."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, int, int]] = []
        run, stream = LocalExecutor.run, LocalExecutor.stream_cells

        def spy_run(
            executor: LocalExecutor,
            jobs: Sequence[EvalJob],
            record: Callable[[int, EvalResult], None],
        ) -> None:
            self.calls.append(("run", executor.workers, len(jobs)))
            run(executor, jobs, record)

        def spy_stream(
            executor: LocalExecutor, jobs: Sequence[EvalJob], cells: Sequence[Cell]
        ) -> CellStream:
            self.calls.append(("stream_cells", executor.workers, len(cells)))
            return stream(executor, jobs, cells)

        monkeypatch.setattr(LocalExecutor, "run", spy_run)
        monkeypatch.setattr(LocalExecutor, "stream_cells", spy_stream)


class _Remote:
    """Another executor: it runs jobs here, and says so."""

    def __init__(self) -> None:
        self.ran: list[list[EvalJob]] = []

    def run(self, jobs: Sequence[EvalJob], record: Callable[[int, EvalResult], None]) -> None:
        self.ran.append(list(jobs))
        for i, job in enumerate(jobs):
            record(i, evaluate(job))

    def stream_cells(self, jobs: Sequence[EvalJob], cells: Sequence[Cell]) -> CellStream:
        return LocalExecutor().stream_cells(jobs, cells)

    def traced(self, job: EvalJob) -> list[EpisodeRecord]:
        raise AssertionError("not used")


def test_eval_with_workers_splits_its_job_over_a_pool(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spy = _Spy(monkeypatch)
    base = ["eval", "--data", "synthetic", "-c", "cmc", "-b", "0.5", "--seeds", "6", "--json"]
    assert main([*base, "-q", "--workers", "1"]) == 0
    one = capsys.readouterr().out
    assert spy.calls == []  # one process: no executor at all
    assert main([*base, "-q", "--workers", "2"]) == 0
    two = capsys.readouterr().out
    # cells of its replicates on two processes (6 seeds: one cell each, workers × 4 at most)
    assert spy.calls == [("stream_cells", 2, 6)]
    assert two == one  # byte for byte


def test_evaluate_job_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = _Spy(monkeypatch)
    alone = evaluate(JOB).to_dict()
    assert evaluate_job(JOB).to_dict() == alone
    assert spy.calls == []
    assert evaluate_job(JOB, workers=3).to_dict() == alone
    assert spy.calls == [("stream_cells", 3, 6)]
    # with a trace sink: this process, whatever the workers (the sink is written here)
    seen: list[tuple[int, int]] = []
    traced = evaluate_job(JOB, workers=3, trace_sink=lambda r, q, _record: seen.append((r, q)))
    assert traced.to_dict() == alone
    assert len(seen) == 6 * 30 and spy.calls == [("stream_cells", 3, 6)]
    # an executor given: the job goes to it, not to a local pool
    remote = _Remote()
    assert evaluate_job(JOB, workers=3, executor=remote).to_dict() == alone
    assert remote.ran == [[JOB]] and len(spy.calls) == 1
    with pytest.raises(UsageError, match="traces"):
        evaluate_job(JOB, executor=remote, trace_sink=lambda r, q, _record: None)
    with pytest.raises(UsageError, match="workers"):
        evaluate_job(JOB, workers=0)


def test_run_jobs_hands_the_jobs_to_one_executor(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = _Spy(monkeypatch)
    jobs = [JOB, EvalJob(REF, ControllerSpec("sc", 0.5), ReferenceProtocol(6))]
    here = run_jobs(jobs)
    assert run_jobs(jobs, workers=2) == here
    assert spy.calls == [("run", 1, 2), ("run", 2, 2)]
    remote = _Remote()
    assert run_jobs(jobs, workers=2, executor=remote) == here
    assert remote.ran == [jobs] and len(spy.calls) == 2


def test_a_split_stops_its_pool_when_a_cell_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """An error in one cell ends the split at once, with that error (its pool stopped)."""
    stopped: list[object] = []
    stop = executors.stop_pool

    def spy_stop(pool: Any) -> None:
        stopped.append(pool)
        stop(pool)

    monkeypatch.setattr(executors, "stop_pool", spy_stop)
    broken = EvalJob(REF, ControllerSpec("cmc", None, {"no_such_parameter": 1}), JOB.protocol)
    with pytest.raises(Exception, match="no_such_parameter"):
        evaluate_split(broken, 2)
    assert len(stopped) == 1
