"""One evaluation spread over worker processes, by replicates.

Episodes are independent, so the replicates of one job can run in separate
processes and their per-episode tables be stacked back in order: the result is
identical to a single-process run (metrics are computed once, on the whole table).
"""

from __future__ import annotations

import concurrent.futures as futures
import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from autotts.controllers.registry import build
from autotts.evaluation.file_cell import run_file_cell, sandbox_record
from autotts.evaluation.jobs import (
    EvalJob,
    _ignore_sigint,
    load_data,
    process_pool,
    runs_in_sandbox,
    stop_pool,
)
from autotts.evaluation.protocols import ReplicateSlice
from autotts.evaluation.results import EvalResult, summarise
from autotts.evaluation.runner import EpisodeTable, run_episodes

__all__ = ["ReplicateSlice", "evaluate_split", "run_slice"]


def run_slice(job: EvalJob, start: int, stop: int) -> tuple[EpisodeTable, dict[str, Any]]:
    """One slice's episode table, and the controller's resolved parameters."""
    protocol = ReplicateSlice(job.protocol, start, stop)
    replay = load_data(job.data)
    if runs_in_sandbox(job.spec):  # a controller file: in a sandboxed worker
        run, audit = run_file_cell(job, replay, protocol)
        about = {"params": run.params, "sandbox": run.layers, "audit": audit}
        return run.table, {**about, "interpreter": run.interpreter}
    controller = build(job.spec)
    table = run_episodes(controller, replay, protocol, max_steps=job.max_steps)
    return table, {"params": controller.params()}


def evaluate_split(
    job: EvalJob,
    workers: int,
    progress: Callable[[int, int], None] | None = None,
) -> EvalResult:
    """:func:`~autotts.evaluation.jobs.evaluate` on ``workers`` processes; same result."""
    replicates = job.protocol.replicates
    questions = len(load_data(job.data))
    # A few slices per worker, so that progress moves and the workers finish together.
    count = min(replicates, workers * 4)
    bounds = [round(i * replicates / count) for i in range(count + 1)]
    slices = [(a, b) for a, b in itertools.pairwise(bounds) if b > a]
    tables: dict[int, EpisodeTable] = {}
    about: dict[str, Any] = {}
    audits: list[dict[str, Any]] = []
    pool = process_pool(workers, _ignore_sigint)
    try:
        pending = {pool.submit(run_slice, job, a, b): i for i, (a, b) in enumerate(slices)}
        done = 0
        for future in futures.as_completed(pending):
            i = pending[future]
            tables[i], about = future.result()
            audits.append(about.get("audit", {}))
            done += (slices[i][1] - slices[i][0]) * questions
            if progress is not None:
                progress(done, replicates * questions)
    except BaseException:
        # As in run_jobs: stop the workers, so Ctrl-C or an error returns at once.
        stop_pool(pool)
        raise
    pool.shutdown()
    ordered = [tables[i] for i in range(len(slices))]
    table = EpisodeTable(
        correct=np.concatenate([t.correct for t in ordered]),
        cost=np.concatenate([t.cost for t in ordered]),
        sequential_cost=np.concatenate([t.sequential_cost for t in ordered]),
    )
    return EvalResult(
        label=job.label or job.spec.label(),
        controller={
            **job.spec.to_dict(),
            **(
                {**sandbox_record(about["sandbox"], about["interpreter"]), "audit": audits}
                if "sandbox" in about
                else {}
            ),
        },
        params=about["params"],
        data=load_data(job.data).provenance(),
        protocol=job.protocol.to_dict(),
        metrics=summarise(table),
    )
