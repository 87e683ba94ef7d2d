"""Kept sandboxed workers: every cell of a candidate on one worker, with the numbers,
verdicts and clean-up of a fresh worker per cell."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autotts.controllers.registry import ControllerSpec
from autotts.errors import CandidateRejected
from autotts.evaluation.executors import expected_cost, run_jobs
from autotts.evaluation.jobs import DataRef, EvalJob, load_data
from autotts.evaluation.keeping import keeping_workers
from autotts.evaluation.kept_workers import KeptWorkers
from autotts.evaluation.protocols import ReferenceProtocol, ReplicateSlice
from autotts.evaluation.sandboxed import SandboxRun, run_in_sandbox
from autotts.sandbox import SandboxLimits, read_candidate
from autotts.sandbox.interpreter import pypy_path
from tests.sandbox.conftest import FIRST_AGREEMENT, own_descendants

KEPT = Path(__file__).parent / "kept"


def _same(a: SandboxRun, b: SandboxRun) -> None:
    assert np.array_equal(a.table.correct, b.table.correct)
    assert np.array_equal(a.table.cost, b.table.cost)
    assert np.array_equal(a.table.sequential_cost, b.table.sequential_cost)
    assert [o.answer for o in a.outcomes] == [o.answer for o in b.outcomes]


def _kept_pid(workers: KeptWorkers) -> int:
    kept = workers.cell_worker("cpython")
    assert kept is not None
    return int(kept._process.pid)


def test_cells_on_a_kept_worker_equal_fresh_workers(small_ref: DataRef) -> None:
    candidate = read_candidate(str(FIRST_AGREEMENT))
    replay, protocol = load_data(small_ref), ReferenceProtocol(seeds=3)
    with keeping_workers() as context:
        first = context.workers.run(candidate, replay, protocol, beta=0.0)
        pid = _kept_pid(context.workers)
        kept = [context.workers.run(candidate, replay, protocol, beta=b) for b in (1.0, 0.5)]
        assert _kept_pid(context.workers) == pid  # one worker served every cell
    assert own_descendants() == set()  # closed on leaving the block
    for beta, run in zip((0.0, 1.0, 0.5), [first, *kept]):
        _same(run, run_in_sandbox(candidate, replay, protocol, beta=beta))


@pytest.mark.parametrize("interpreter", ["cpython", "pypy"])
def test_module_state_does_not_cross_cells(small_ref: DataRef, interpreter: str) -> None:
    """On PyPy the file's globals are one dict for every cell, emptied at each load."""
    if interpreter == "pypy" and pypy_path() is None:
        pytest.skip("pypy3 is not installed")
    candidate = read_candidate(str(KEPT / "stateful.py"))
    replay, protocol = load_data(small_ref), ReferenceProtocol(seeds=2)
    limits = SandboxLimits(interpreter=interpreter)
    fresh = run_in_sandbox(candidate, replay, protocol, beta=0.5, limits=limits)
    assert sum(o.answer is not None for o in fresh.outcomes) == 3  # the counters work
    with keeping_workers() as context:
        runs = [
            context.workers.run(candidate, replay, protocol, beta=0.5, limits=limits)
            for _ in range(3)
        ]
    for run in runs:
        _same(run, fresh)


def test_a_failure_in_a_reused_worker_is_retried_on_a_fresh_one(small_ref: DataRef) -> None:
    candidate = read_candidate(str(KEPT / "fails_when_reused.py"))
    replay, protocol = load_data(small_ref), ReferenceProtocol(seeds=2)
    fresh = run_in_sandbox(candidate, replay, protocol, beta=0.5)
    with keeping_workers() as context:
        context.workers.run(candidate, replay, protocol, beta=0.5)
        pid = _kept_pid(context.workers)
        again = context.workers.run(candidate, replay, protocol, beta=0.5)
        assert _kept_pid(context.workers) != pid  # the reused one crashed; a fresh one ran it
    _same(again, fresh)


def test_a_failing_candidate_gets_the_fresh_workers_verdict(small_ref: DataRef) -> None:
    candidate = read_candidate(str(KEPT / "always_fails.py"))
    replay, protocol = load_data(small_ref), ReferenceProtocol(seeds=1)
    with pytest.raises(CandidateRejected) as fresh:
        run_in_sandbox(candidate, replay, protocol, beta=0.5)
    with keeping_workers() as context:
        context.workers.run(read_candidate(str(FIRST_AGREEMENT)), replay, protocol, beta=0.5)
        with pytest.raises(CandidateRejected) as kept:
            context.workers.run(candidate, replay, protocol, beta=0.5)
    assert (kept.value.reason, kept.value.detail) == (fresh.value.reason, fresh.value.detail)
    assert own_descendants() == set()


@pytest.mark.parametrize("workers", [1, 2])
def test_run_jobs_shares_workers_keeps_job_order_and_leaves_no_process(
    small_ref: DataRef, workers: int
) -> None:
    protocol = ReferenceProtocol(seeds=2)
    jobs = [
        EvalJob(small_ref, ControllerSpec(f"{FIRST_AGREEMENT}:FirstAgreement", beta), protocol)
        for beta in (0.0, 1.0, 0.5, 0.25)
    ]
    # the pool starts the costliest job first, yet results come back in job order
    assert max(jobs, key=expected_cost).spec.beta == 1.0
    results = run_jobs(jobs, workers=workers)
    assert own_descendants() == set()
    candidate, replay = read_candidate(str(FIRST_AGREEMENT)), load_data(small_ref)
    for job, result in zip(jobs, results):
        fresh = run_in_sandbox(candidate, replay, protocol, beta=job.spec.beta)
        assert result.controller["beta"] == job.spec.beta
        assert result.metrics.accuracy == round(100 * float(fresh.table.correct.mean()), 2)
        assert result.metrics.tokens == pytest.approx(fresh.table.cost.sum(axis=1).mean() / 6)


def test_a_kept_worker_reports_cpu_per_cell(small_ref: DataRef) -> None:
    candidate = read_candidate(str(FIRST_AGREEMENT))
    replay = load_data(small_ref)
    with keeping_workers() as context:
        runs = [
            context.workers.run(
                candidate, replay, ReplicateSlice(ReferenceProtocol(4), a, a + 2), beta=0.5
            )
            for a in (0, 2)
        ]
    # the second cell's count excludes the first's (and the worker's start-up)
    assert 0 < runs[1].worker_cpu_seconds < runs[0].worker_cpu_seconds
