"""Held-out evaluation of the selected controller against the baselines.

This module is the only place held-out files become data, and it refuses to
do so before ``selection.json`` exists: the search phase cannot reach them.
The comparison uses the reference protocol and the published table's
baselines (:data:`autotts.evaluation.table.TABLE_METHODS`), so its baseline rows
are the ones ``autotts table`` prints.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from autotts.controllers.registry import ControllerSpec
from autotts.discovery.curves import point_from_result
from autotts.discovery.rundir import RunDir
from autotts.discovery.verdict import matched_baseline, paired_gain
from autotts.errors import UsageError
from autotts.evaluation.jobs import DataRef, EvalJob, load_data, run_jobs
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.results import EvalResult
from autotts.evaluation.table import table_jobs

__all__ = ["evaluate_heldout"]


def evaluate_heldout(
    run: RunDir,
    heldout: list[DataRef],
    *,
    seeds: int = 100,
    workers: int = 1,
    on_done: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Evaluate the selection on ``heldout`` and write ``heldout.json``; returns its object."""
    if not run.file("selection.json").is_file():
        raise UsageError("held-out files are evaluated only after selection.json exists")
    selection = run.read_json("selection.json")
    if selection.get("round") is None:
        raise UsageError("the run selected no controller (no accepted round)")
    number = int(selection["round"])
    folder = run.round_dir(number)
    reference = f"{folder / 'candidate.py'}:{selection['class']}"
    label = f"round {number}: {selection.get('name') or 'candidate'}"
    protocol = ReferenceProtocol(seeds=seeds)
    candidate_jobs = [
        EvalJob(ref, ControllerSpec(reference, selection["beta"]), protocol, label=label)
        for ref in heldout
    ]
    jobs = candidate_jobs + table_jobs(heldout, protocol)
    done = [0]

    def tick(_i: int, _r: EvalResult) -> None:
        done[0] += 1
        if on_done:
            on_done(done[0], len(jobs))

    results = run_jobs(jobs, workers=workers, on_done=tick)
    points = []
    for job, result in zip(jobs, results):
        point = point_from_result(result, job.spec.beta)
        points.append({"method": job.label, **point})
    # The verdict's pairing: the selection and its baseline at matched tokens, per question.
    base = matched_baseline(points, label)
    paired = None
    if base is not None:
        base_jobs = [job for job in jobs if job.label == base]
        paired = {"baseline": base, **paired_gain(candidate_jobs, base_jobs)}
    payload = {
        "selection": {k: selection[k] for k in ("round", "beta", "rule") if k in selection},
        "paired": paired,
        "candidate": label,
        "protocol": protocol.to_dict(),
        "files": [{**load_data(ref).provenance()} for ref in heldout],
        "points": points,
    }
    run.write_json("heldout.json", payload)
    return payload
