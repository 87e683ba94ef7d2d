"""Held-out evaluation of the selected controller against the baselines.

This module is the only place held-out files become data, and it refuses to
do so before ``selection.json`` exists: the search phase cannot reach them.
The comparison uses the reference protocol and the published table's
baselines (:data:`autotts.evaluation.table.TABLE_METHODS`), so its baseline rows
are the ones ``autotts table`` prints. Its gains are drawn as ``autotts optimize``'s
are (:mod:`autotts.evaluation.paired_gain`: questions resampled jointly across models,
the per-file interval beside it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from autotts.controllers.registry import ControllerSpec
from autotts.discovery.curves import point_from_result
from autotts.discovery.heldout_common import Progress, read_selection
from autotts.discovery.heldout_records import BaselineGain, DiscoverHeldout, HeldoutPoint
from autotts.discovery.records import CurvePoint, CurvesFile
from autotts.discovery.rundir import RunDir
from autotts.discovery.transfer_records import TransferCell, TransferFile, TransferGroup
from autotts.discovery.verdict import episode_tables, files_gain, matched_baseline, question_sets
from autotts.evaluation.executors import JobExecutor, run_jobs
from autotts.evaluation.jobs import DataRef, EvalJob, load_data
from autotts.evaluation.paired import Cell
from autotts.evaluation.paired_gain import DRAWS, JOINT, SEED, PairedGain
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.runner import EpisodeTable
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
) -> DiscoverHeldout:
    """Evaluate the selection on ``heldout`` (on ``executor``; default: ``workers`` local
    processes) and write ``heldout.json``; returns its record."""
    selection = read_selection(run)
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
    progress = Progress(len(jobs), on_done)
    results = run_jobs(
        jobs, workers=workers, on_done=lambda _i, _r: progress.tick(), executor=executor
    )
    points = [
        HeldoutPoint(job.label, CurvePoint.from_dict(point_from_result(result, job.spec.beta)))
        for job, result in zip(jobs, results)
    ]
    # The verdict's pairing: the selection and its baseline at matched tokens, per question.
    # Each side's episodes are run once, for the pooled gain and the transfer cells alike.
    base = matched_baseline(points, label)
    files = [(job.data.model, job.data.benchmark) for job in candidate_jobs]
    paired = None
    tables: tuple[dict[Cell, EpisodeTable], dict[Cell, EpisodeTable]] = ({}, {})
    sets = question_sets(candidate_jobs)
    if base is not None:
        tables = (
            episode_tables(candidate_jobs),
            episode_tables([job for job in jobs if job.label == base]),
        )
        paired = BaselineGain(base, files_gain(*tables, files, sets))
    # Written before heldout.json, whose presence marks the held-out phase done.
    transfer = transfer_matrix(run, selection, files, points, label, paired, tables, sets)
    run.write_json("transfer.json", transfer.to_dict())
    record = DiscoverHeldout(
        selection={k: selection[k] for k in ("round", "beta", "rule") if k in selection},
        paired=paired,
        candidate=label,
        protocol=protocol.to_dict(),
        files=tuple({**load_data(ref).provenance()} for ref in heldout),
        points=tuple(points),
    )
    run.write_json("heldout.json", record.to_dict())
    return record


def transfer_matrix(
    run: RunDir,
    selection: dict[str, Any],
    files: list[Cell],
    points: list[HeldoutPoint],
    label: str,
    paired: BaselineGain | None,
    tables: tuple[dict[Cell, EpisodeTable], dict[Cell, EpisodeTable]],
    sets: dict[Cell, str],
) -> TransferFile:
    """``transfer.json``: the selection per model × benchmark, beside the baseline it is
    measured against (the held-out comparison's, chosen on all held-out files pooled).

    A held-out cell carries the paired gain over that baseline with its bootstrap 95 %
    interval over the file's questions; a search cell carries the selected round's
    search-set point (in-sample, so no interval). Groups pool the held-out cells of the
    models the search never saw, and of the searched models, when both kinds exist; a
    group's interval draws each question once for all its models (``ci95``), and file
    by file (``ci95_per_file``). ``tables``: the selection's and the baseline's episodes
    per held-out file (empty without a baseline); ``sets``: the question set of each.
    """

    settings = run.settings()
    search_models = sorted({e["model"] for e in settings["search"]})
    base = paired.baseline if paired else None
    by_key = {(p.method, p.point.model, p.point.benchmark): p.point for p in points}
    cells: list[TransferCell] = []
    for key in files:
        ours = by_key[(label, key[0], key[1])]
        cell = TransferCell(
            model=key[0],
            benchmark=key[1],
            role="heldout",
            model_searched=key[0] in search_models,
            accuracy=ours.accuracy,
            tokens=ours.tokens,
        )
        if base is not None:
            theirs = by_key[(base, key[0], key[1])]
            gain = files_gain(*tables, [key], sets)
            cell = replace(
                cell,
                baseline_accuracy=theirs.accuracy,
                baseline_tokens=theirs.tokens,
                gain=gain.gain,
                ci95=gain.ci95,
            )
        cells.append(cell)
    cells.extend(_search_points(run, selection))
    groups = []
    if paired is not None:
        groups.append(TransferGroup("all held-out files", len(files), _gain_only(paired.gain)))
        unseen = [k for k in files if k[0] not in search_models]
        seen = [k for k in files if k[0] in search_models]
        if unseen and seen:  # else the one group is all held-out files, above
            for name, keys in (
                ("models the search never saw", unseen),
                ("searched models, held-out benchmarks", seen),
            ):
                gain = files_gain(*tables, keys, sets)
                groups.append(TransferGroup(name, len(keys), _gain_only(gain)))
    models = sorted({c.model for c in cells}, key=lambda m: (m not in search_models, m))
    benchmarks = sorted(
        {c.benchmark for c in cells},
        key=lambda b: (b not in {e["benchmark"] for e in settings["search"]}, b),
    )
    return TransferFile(
        candidate=label,
        beta=selection["beta"],
        baseline=base,
        search_models=tuple(search_models),
        heldout_models=tuple(sorted({e["model"] for e in settings["heldout"]})),
        models=tuple(models),
        benchmarks=tuple(benchmarks),
        interval=f"paired bootstrap 95 % over questions ({DRAWS:,} draws, seed {SEED}); "
        f"a group's {JOINT}, its ci95_per_file file by file",
        cells=tuple(cells),
        groups=tuple(groups),
    )


def _gain_only(gain: PairedGain) -> PairedGain:
    """A group's gain: its intervals, without ``p_not_positive`` (as groups have been)."""
    return replace(gain, p_not_positive=None)


def _search_points(run: RunDir, selection: dict[str, Any]) -> list[TransferCell]:
    """The selected round's points at the selected β, one per search file."""
    curves = CurvesFile.from_dict(run.round_json(int(selection["round"]), "curves.json"))
    return [
        TransferCell(
            model=p.model,
            benchmark=p.benchmark,
            role="search",
            model_searched=True,
            accuracy=p.accuracy,
            tokens=p.tokens,
        )
        for p in curves.points
        if p.beta is not None and abs(float(p.beta) - float(selection["beta"])) < 1e-9
    ]
