"""Cells without Ray: planning, and seed blocks recombined into the local executor's result."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autotts.controllers.registry import ControllerSpec
from autotts.data.synthetic import write_synthetic_store
from autotts.errors import UsageError
from autotts.evaluation.jobs import DataRef, EvalJob, evaluate, load_data
from autotts.evaluation.protocols import ReferenceProtocol, SubsampleProtocol
from autotts.scale import combine, evaluate_cell, plan_cells
from tests.helpers import without_audit

ROOT = Path(__file__).resolve().parents[2]
FIRST_AGREEMENT = f"{ROOT / 'examples' / 'first_agreement.py'}:FirstAgreement"


@pytest.fixture(scope="module")
def ref(tmp_path_factory: pytest.TempPathFactory) -> DataRef:
    out = tmp_path_factory.mktemp("store")
    write_synthetic_store(out, questions=5, branches=20, seed=7)
    return DataRef(str(out), "Synth-Small", "aime24")


def test_plan_cells_covers_every_replicate_once_in_job_order(ref: DataRef) -> None:
    jobs = [
        EvalJob(ref, ControllerSpec("sc", 0.5), ReferenceProtocol(seeds=10)),
        EvalJob(ref, ControllerSpec("cmc", 0.5), ReferenceProtocol(seeds=3)),
    ]
    cells = plan_cells(jobs, seed_block=4)
    assert [(c.job, c.start, c.stop) for c in cells] == [
        (0, 0, 4),
        (0, 4, 8),
        (0, 8, 10),
        (1, 0, 3),
    ]
    assert len({c.key for c in cells}) == len(cells)
    with pytest.raises(UsageError, match="seed block"):
        plan_cells(jobs, seed_block=0)


SPECS = [
    ControllerSpec("cmc", 0.5),  # vectorised path
    ControllerSpec("parallel-probe", 0.3),
    ControllerSpec(FIRST_AGREEMENT, 0.5, trusted=True),  # episode-by-episode path
    ControllerSpec(FIRST_AGREEMENT, 0.5),  # the sandbox
]


@pytest.mark.parametrize("spec", SPECS, ids=["cmc", "pp", "file-trusted", "file-sandboxed"])
@pytest.mark.parametrize("block", [1, 3, 7])
def test_blocks_recombine_to_the_local_result(
    ref: DataRef, spec: ControllerSpec, block: int
) -> None:
    job = EvalJob(ref, spec, ReferenceProtocol(seeds=7), label="x")
    replay = load_data(ref)
    parts = [
        evaluate_cell(job, replay, c.start, c.stop) for c in plan_cells([job], seed_block=block)
    ]
    whole = evaluate_cell(job, replay, 0, 7)
    # identical per-episode correct / cost / sequential cost, and identical result JSON
    for name in ("correct", "cost", "sequential_cost"):
        stacked = np.concatenate([getattr(p.table, name) for p in parts])
        assert np.array_equal(stacked, getattr(whole.table, name)), name
    assert without_audit(combine(job, replay, parts).to_dict()) == without_audit(
        evaluate(job).to_dict()
    )


def test_subsample_protocol_blocks_recombine(ref: DataRef) -> None:
    job = EvalJob(ref, ControllerSpec("asc", 0.7), SubsampleProtocol(draws=5, size=8, seed=2))
    replay = load_data(ref)
    parts = [evaluate_cell(job, replay, c.start, c.stop) for c in plan_cells([job], 2)]
    assert without_audit(combine(job, replay, parts).to_dict()) == without_audit(
        evaluate(job).to_dict()
    )


def test_combine_refuses_missing_replicates(ref: DataRef) -> None:
    job = EvalJob(ref, ControllerSpec("sc", 0.5), ReferenceProtocol(seeds=4))
    replay = load_data(ref)
    with pytest.raises(ValueError, match="cover 2 replicates"):
        combine(job, replay, [evaluate_cell(job, replay, 0, 2)])
