"""Cells: the unit of work an executor fans out (a local pool or Ray).

A cell is one job (controller × β × replay file) restricted to a block of its
protocol's replicates (for the reference protocol: a range of shuffle seeds).
Episodes are independent, so a job's per-episode tables from its cells, stacked in
replicate order, are exactly the table one local run builds, and the metrics —
computed once, on the whole table — are bit-identical to a whole-job run.

Every executor (:mod:`autotts.evaluation.executors`) streams cells: ``eval --workers N``
splits its one job into cells, racing reads blocks of seeds as they come in, and Ray
runs every job as cells. Planning cells, evaluating one, and combining them are plain
functions here, so all of them run a cell one way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from autotts.controllers.registry import build
from autotts.data.records import ReplaySet
from autotts.errors import UsageError
from autotts.evaluation.file_cell import run_file_cell, sandbox_record
from autotts.evaluation.jobs import EvalJob, runs_in_sandbox
from autotts.evaluation.protocols import ReplicateSlice
from autotts.evaluation.results import EvalResult, summarise
from autotts.evaluation.runner import EpisodeTable, TraceSink, run_episodes
from autotts.sandbox import CandidateFile

__all__ = [
    "DEFAULT_SEED_BLOCK",
    "Cell",
    "CellResult",
    "combine",
    "evaluate_cell",
    "plan_cells",
]

#: replicates (reference protocol: shuffle seeds) per cell; 100 seeds -> 4 cells per job
DEFAULT_SEED_BLOCK = 25


@dataclass(frozen=True)
class Cell:
    """Replicates ``start..stop-1`` of job ``job``; ``key`` identifies it in a run."""

    job: int
    start: int
    stop: int

    @property
    def key(self) -> tuple[int, int]:
        return (self.job, self.start)


@dataclass(frozen=True)
class CellResult:
    """One cell's per-episode table, the controller's resolved parameters and, for a
    sandboxed controller file, the isolation layers that ran it."""

    table: EpisodeTable
    params: dict[str, Any]
    sandbox: list[str] | None = None
    #: the process that computed it (diagnostics only; never part of a result)
    pid: int = 0
    #: the Ray node it was computed on, where it was (diagnostics only)
    node: str = ""
    #: for a controller file, the cell's audit record and the interpreter that ran it
    audit: dict[str, Any] | None = None
    interpreter: str = "cpython"


def plan_cells(jobs: list[EvalJob], seed_block: int = DEFAULT_SEED_BLOCK) -> list[Cell]:
    """Every job split into blocks of at most ``seed_block`` replicates, in job order."""
    if seed_block < 1:
        raise UsageError(f"seed block must be >= 1, got {seed_block}")
    cells = []
    for i, job in enumerate(jobs):
        replicates = job.protocol.replicates
        for start in range(0, replicates, seed_block):
            cells.append(Cell(i, start, min(start + seed_block, replicates)))
    return cells


def evaluate_cell(
    job: EvalJob,
    replay: ReplaySet,
    start: int,
    stop: int,
    candidate: CandidateFile | None = None,
    trace_sink: TraceSink | None = None,
) -> CellResult:
    """Evaluate replicates ``start..stop-1`` of ``job`` on ``replay`` in this process.

    A controller file that is not trusted runs in a sandboxed worker process of this
    one: this process's kept worker where keeping is on (a Ray worker), else one
    started for the cell (``candidate`` carries its source, read once by the caller,
    so the file need not exist where this runs); this process replays and scores its
    action logs.
    With ``trace_sink`` every episode's trace goes to it (as :func:`~autotts.evaluation.
    jobs.evaluate` does).
    """
    protocol = ReplicateSlice(job.protocol, start, stop)
    if runs_in_sandbox(job.spec):
        # a Ray worker keeps its sandboxed worker from cell to cell (see _cell_task)
        run, audit = run_file_cell(
            job, replay, protocol, candidate=candidate, trace_sink=trace_sink
        )
        return CellResult(
            run.table,
            run.params,
            list(run.layers),
            os.getpid(),
            audit=audit,
            interpreter=run.interpreter,
        )
    controller = build(job.spec)
    table = run_episodes(
        controller, replay, protocol, trace_sink=trace_sink, max_steps=job.max_steps
    )
    return CellResult(table, controller.params(), None, os.getpid())


def combine(job: EvalJob, replay: ReplaySet, parts: list[CellResult]) -> EvalResult:
    """The job's result from its cells' results, given in replicate order.

    Builds exactly what :func:`autotts.evaluation.jobs.evaluate` returns for the
    whole job.
    """
    if not parts:
        raise ValueError("combine needs at least one cell result")
    table = EpisodeTable(
        correct=np.concatenate([p.table.correct for p in parts]),
        cost=np.concatenate([p.table.cost for p in parts]),
        sequential_cost=np.concatenate([p.table.sequential_cost for p in parts]),
    )
    if table.correct.shape[0] != job.protocol.replicates:
        raise ValueError(
            f"cells cover {table.correct.shape[0]} replicates, the job has "
            f"{job.protocol.replicates}"
        )
    sandbox = parts[0].sandbox
    return EvalResult(
        label=job.label or job.spec.label(),
        controller={
            **job.spec.to_dict(),
            **(
                {
                    **sandbox_record(sandbox, parts[0].interpreter),
                    "audit": [p.audit for p in parts],
                }
                if sandbox is not None
                else {}
            ),
        },
        params=parts[0].params,
        data=replay.provenance(),
        protocol=job.protocol.to_dict(),
        metrics=summarise(table),
    )
