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
from autotts.evaluation.executors import JobExecutor, run_jobs
from autotts.evaluation.jobs import DataRef, EvalJob, load_data
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.results import EvalResult
from autotts.evaluation.table import table_jobs

__all__ = ["evaluate_heldout", "transfer_matrix"]


def evaluate_heldout(
    run: RunDir,
    heldout: list[DataRef],
    *,
    seeds: int = 100,
    workers: int = 1,
    on_done: Callable[[int, int], None] | None = None,
    executor: JobExecutor | None = None,
) -> dict[str, Any]:
    """Evaluate the selection on ``heldout`` (on ``executor``; default: ``workers`` local
    processes) and write ``heldout.json``; returns its object."""
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

    results = run_jobs(jobs, workers=workers, on_done=tick, executor=executor)
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
    # Written before heldout.json, whose presence marks the held-out phase done.
    run.write_json(
        "transfer.json",
        transfer_matrix(run, selection, candidate_jobs, jobs, points, label, paired),
    )
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


def transfer_matrix(
    run: RunDir,
    selection: dict[str, Any],
    candidate_jobs: list[EvalJob],
    jobs: list[EvalJob],
    points: list[dict[str, Any]],
    label: str,
    paired: dict[str, Any] | None,
) -> dict[str, Any]:
    """``transfer.json``: the selection per model × benchmark, beside the baseline it is
    measured against (the held-out comparison's, chosen on all held-out files pooled).

    A held-out cell carries the paired gain over that baseline with its bootstrap 95 %
    interval over the file's questions; a search cell carries the selected round's
    search-set point (in-sample, so no interval). Groups pool the held-out cells of the
    models the search never saw, and of the searched models, when both kinds exist.
    """

    settings = run.settings()
    search_models = sorted({e["model"] for e in settings["search"]})
    base = paired["baseline"] if paired else None
    by_key = {(p["method"], p["model"], p["benchmark"]): p for p in points}
    cells: list[dict[str, Any]] = []
    per_file: dict[tuple[str, str], tuple[EvalJob, EvalJob]] = {}
    for job in candidate_jobs:
        key = (job.data.model, job.data.benchmark)
        ours = by_key[(label, key[0], key[1])]
        cell: dict[str, Any] = {
            "model": key[0],
            "benchmark": key[1],
            "role": "heldout",
            "model_searched": key[0] in search_models,
            "accuracy": ours["accuracy"],
            "tokens": ours["tokens"],
        }
        if base is not None:
            theirs = by_key[(base, key[0], key[1])]
            base_job = next(
                j for j in jobs if j.label == base and (j.data.model, j.data.benchmark) == key
            )
            per_file[key] = (job, base_job)
            gain = paired_gain([job], [base_job])
            cell.update(
                baseline_accuracy=theirs["accuracy"],
                baseline_tokens=theirs["tokens"],
                gain=gain["gain"],
                ci95=gain["ci95"],
            )
        cells.append(cell)
    for point in _search_points(run, selection):
        cells.append({**point, "role": "search", "model_searched": True})
    groups = []
    if paired is not None:
        groups.append({"name": "all held-out files", "files": len(per_file), **_gain_only(paired)})
        unseen = [k for k in per_file if k[0] not in search_models]
        seen = [k for k in per_file if k[0] in search_models]
        if unseen and seen:  # else the one group is all held-out files, above
            for name, keys in (
                ("models the search never saw", unseen),
                ("searched models, held-out benchmarks", seen),
            ):
                gain = paired_gain([per_file[k][0] for k in keys], [per_file[k][1] for k in keys])
                groups.append({"name": name, "files": len(keys), **_gain_only(gain)})
    models = sorted({c["model"] for c in cells}, key=lambda m: (m not in search_models, m))
    benchmarks = sorted(
        {c["benchmark"] for c in cells},
        key=lambda b: (b not in {e["benchmark"] for e in settings["search"]}, b),
    )
    return {
        "candidate": label,
        "beta": selection["beta"],
        "baseline": base,
        "search_models": search_models,
        "heldout_models": sorted({e["model"] for e in settings["heldout"]}),
        "models": models,
        "benchmarks": benchmarks,
        "interval": "paired bootstrap 95 % over questions (10,000 draws, seed 0)",
        "cells": cells,
        "groups": groups,
    }


def _gain_only(gain: dict[str, Any]) -> dict[str, Any]:
    return {"gain": gain["gain"], "ci95": gain["ci95"]}


def _search_points(run: RunDir, selection: dict[str, Any]) -> list[dict[str, Any]]:
    """The selected round's points at the selected β, one per search file."""
    curves = run.round_json(int(selection["round"]), "curves.json")
    return [
        {
            "model": p["model"],
            "benchmark": p["benchmark"],
            "accuracy": p["accuracy"],
            "tokens": p["tokens"],
        }
        for p in curves.get("points", [])
        if abs(float(p["beta"]) - float(selection["beta"])) < 1e-9
    ]
