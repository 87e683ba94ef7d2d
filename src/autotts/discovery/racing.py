"""Racing: stop evaluating a candidate's curve once it clearly cannot be selected.

``autotts discover --race`` evaluates a candidate's search-set curve in blocks of
shuffle seeds (replicates) instead of all at once. After each complete block it
asks whether the candidate could still be chosen by the ``accuracy`` selection
rule, i.e. whether at some β its final mean search-set accuracy (over all
``N`` seeds) could reach the *incumbent* — the best mean search-set accuracy of
the accepted, fully evaluated rounds so far. The rule (:data:`RULE`):

    after ``n`` of ``N`` seeds (``n >= MIN_SEEDS``), at every β, an upper bound on
    the final accuracy is below the incumbent's. The final accuracy is
    ``n/N · seen + (N-n)/N · unseen``; ``seen`` is known exactly, ``unseen`` (the
    mean over files and questions of the seeds not yet run) is bounded by its
    estimate from the seen seeds plus ``Z = 4`` standard deviations of its
    prediction error, question by question:
    ``p(1-p)·(1/n + 1/(N-n))`` with ``p = (k+1)/(n+2)`` for ``k`` of ``n`` correct
    (never zero, so a question solved on every seen seed may still fail later).

A one-sided 4-σ bound is wrong with probability about 3·10⁻⁵; over 11 β and (100
seeds, blocks of 10) eight looks, the chance that an evaluation is stopped although
the candidate would have reached the incumbent stays below 88 × 3·10⁻⁵ ≈ 0.3 %
(a normal approximation over the search set's 100+ questions).

A candidate that is not stopped is evaluated on every seed, and its results are
identical to an unraced run (the blocks' per-episode tables are stacked in seed
order and summarised once). A stopped one keeps the points of the seeds it ran,
recorded as such (``protocol.replicates`` in each result; ``race`` in
``check.json``), and is never selected. Racing is for the search phase only: the
held-out evaluation and the baselines always run every seed.

The blocks are cells (:mod:`~autotts.evaluation.cells`) streamed by an executor, which
every executor can do (:class:`~autotts.evaluation.executors.JobExecutor`): the one given
(a Ray cluster's for ``discover --executor ray``), else this machine's ``workers``
processes; the same numbers on each.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autotts.evaluation.cells import Cell, CellResult
from autotts.evaluation.executors import JobExecutor, LocalExecutor
from autotts.evaluation.file_cell import sandbox_record
from autotts.evaluation.jobs import EvalJob, load_data
from autotts.evaluation.protocols import ReplicateSlice
from autotts.evaluation.results import EvalResult, summarise
from autotts.evaluation.runner import EpisodeTable

__all__ = ["BLOCK_SEEDS", "MIN_SEEDS", "RULE", "RaceOutcome", "Z", "race_curves", "upper_bounds"]

#: seeds (replicates) per block
BLOCK_SEEDS = 10
#: no stop before this many seeds of every cell are in
MIN_SEEDS = 20
#: standard deviations of the one-sided bound
Z = 4.0
RULE = (
    f"after n >= {MIN_SEEDS} of N seeds (blocks of {BLOCK_SEEDS}), stop when at every β an "
    f"upper bound on the N-seed mean search-set accuracy is below the incumbent's best: "
    f"n/N·seen + (N-n)/N·(unseen estimate + {Z:g}·sd), per question "
    "var = p(1-p)(1/n + 1/(N-n)), p = (k+1)/(n+2)"
)


@dataclass
class RaceOutcome:
    """Results in job order (on the seeds run), and what racing did."""

    results: list[EvalResult]
    #: per job, the per-episode table of the seeds run
    tables: list[EpisodeTable]
    seeds_run: int
    seeds_total: int
    stopped: bool
    #: per β, the upper bound on the final accuracy at the stop (or last look)
    bounds: dict[float, float] = field(default_factory=dict)

    def record(self, incumbent: float) -> dict[str, Any]:
        """What ``check.json`` keeps under ``race``."""
        return {
            "rule": RULE,
            "incumbent_accuracy": incumbent,
            "stopped": self.stopped,
            "seeds_run": self.seeds_run,
            "seeds_total": self.seeds_total,
            "upper_bounds": [{"beta": b, "accuracy": round(v, 4)} for b, v in self.bounds.items()],
        }


def upper_bounds(
    seen: dict[float, list[np.ndarray]], total: int, z: float = Z
) -> dict[float, float]:
    """Per β, the upper bound (percent) of :data:`RULE` on the final mean accuracy.

    ``seen[β]`` holds one boolean ``[n, questions]`` array per search file (the
    seeds run so far); ``total`` is ``N``.
    """
    out: dict[float, float] = {}
    for beta, files in seen.items():
        n = files[0].shape[0]
        share = n / total
        # The mean of the seen seeds is both what is known and the unseen seeds' estimate.
        known, variance = 0.0, 0.0
        for correct in files:
            k = correct.sum(axis=0)  # per question, correct episodes of the n seen
            weight = 1.0 / (len(files) * correct.shape[1])
            known += weight * float(k.sum()) / n
            if n < total:
                p = (k + 1.0) / (n + 2.0)
                variance += weight**2 * float((p * (1 - p)).sum()) * (1 / n + 1 / (total - n))
        unseen = min(1.0, known + z * math.sqrt(variance))
        out[beta] = 100.0 * (share * known + (1.0 - share) * unseen)
    return out


def race_curves(
    jobs: Sequence[EvalJob],
    incumbent: float,
    *,
    workers: int = 1,
    on_done: Callable[[int, int], None] | None = None,
    block: int = BLOCK_SEEDS,
    min_seeds: int = MIN_SEEDS,
    executor: JobExecutor | None = None,
) -> RaceOutcome:
    """Evaluate curve jobs (one protocol for all) in seed blocks, racing ``incumbent`` (percent).

    The blocks run on ``executor`` (default: ``workers`` local processes).
    ``on_done(cells_done, cells_total)`` reports progress.
    """
    total = jobs[0].protocol.replicates
    edges = [*range(0, total, block), total]
    blocks = list(itertools.pairwise(edges))
    cells = [(j, b) for b in range(len(blocks)) for j in range(len(jobs))]
    race = _Race(jobs, len(blocks), [edges[i + 1] for i in range(len(blocks))], total, incumbent)
    race.min_seeds, race.on_done, race.cells = min_seeds, on_done, len(cells)
    chosen = executor or LocalExecutor(max(1, workers))
    block_of = {start: b for b, (start, _) in enumerate(blocks)}
    # Block-major, so a block completes early and racing can look at it.
    planned = [Cell(j, *blocks[b]) for j, b in cells]
    with contextlib.closing(chosen.stream_cells(jobs, planned)) as stream:
        for cell, part in stream:  # leaving early starts no more cells
            if race.arrived(cell.job, block_of[cell.start], part):
                break
    seeds_run = edges[race.complete]
    parts = [[race.tables[(j, b)] for b in range(race.complete)] for j in range(len(jobs))]
    tables = [_stack([p.table for p in job_parts]) for job_parts in parts]
    results = [_result(job, table, job_parts) for job, table, job_parts in zip(jobs, tables, parts)]
    return RaceOutcome(results, tables, seeds_run, total, race.stopped, race.bounds)


class _Race:
    """The cells that arrived, the blocks complete for every job, and the stop decision."""

    def __init__(
        self, jobs: Sequence[EvalJob], blocks: int, ends: list[int], total: int, incumbent: float
    ) -> None:
        self.jobs, self.blocks, self.ends, self.total = jobs, blocks, ends, total
        self.incumbent = incumbent
        self.tables: dict[tuple[int, int], CellResult] = {}
        self.complete = 0  # blocks 0..complete-1 are in for every job
        self.stopped = False
        self.bounds: dict[float, float] = {}
        self.min_seeds = MIN_SEEDS
        self.on_done: Callable[[int, int], None] | None = None
        self.cells = 0

    def arrived(self, j: int, b: int, part: CellResult) -> bool:
        """Record cell (job ``j``, block ``b``); True when racing says stop."""
        self.tables[(j, b)] = part
        if self.on_done is not None:
            self.on_done(len(self.tables), self.cells)
        while self.complete < self.blocks and all(
            (i, self.complete) in self.tables for i in range(len(self.jobs))
        ):
            n = self.ends[self.complete]
            self.complete += 1
            if n < self.min_seeds or n >= self.total:
                continue
            self.bounds = upper_bounds(_seen(self.jobs, self.tables, self.complete), self.total)
            if max(self.bounds.values()) < self.incumbent:
                self.stopped = True
                return True
        return False


def _seen(
    jobs: Sequence[EvalJob],
    tables: dict[tuple[int, int], CellResult],
    complete: int,
) -> dict[float, list[np.ndarray]]:
    seen: dict[float, list[np.ndarray]] = {}
    for j, job in enumerate(jobs):
        stacked = np.concatenate([tables[(j, b)].table.correct for b in range(complete)])
        seen.setdefault(job.spec.beta if job.spec.beta is not None else 0.0, []).append(stacked)
    return seen


def _stack(tables: list[EpisodeTable]) -> EpisodeTable:
    """Seed blocks' tables, stacked in seed order."""
    return EpisodeTable(
        correct=np.concatenate([t.correct for t in tables]),
        cost=np.concatenate([t.cost for t in tables]),
        sequential_cost=np.concatenate([t.sequential_cost for t in tables]),
    )


def _result(job: EvalJob, table: EpisodeTable, blocks: list[CellResult]) -> EvalResult:
    """The job's result on the seeds ``table`` covers (all of them: what evaluate() returns);
    ``blocks`` are the seed blocks' cells, in seed order (with how each ran)."""
    first = blocks[0]
    replicates = table.correct.shape[0]
    protocol = (
        job.protocol
        if replicates == job.protocol.replicates
        else ReplicateSlice(job.protocol, 0, replicates)
    )
    return EvalResult(
        label=job.label or job.spec.label(),
        controller={
            **job.spec.to_dict(),
            **(
                {
                    **sandbox_record(first.sandbox, first.interpreter),
                    "audit": [block.audit for block in blocks],
                }
                if first.sandbox is not None
                else {}
            ),
        },
        params=first.params,
        data=load_data(job.data).provenance(),
        protocol=protocol.to_dict(),
        metrics=summarise(table),
    )
